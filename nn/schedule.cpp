// Learning-rate schedules (formulas in nn/schedule.h).
#include "nn/schedule.h"

#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace mindiff::nn {

LrSchedule LrSchedule::constant(float lr) {
  MD_CHECK(std::isfinite(lr) && lr >= 0.0f, "lr schedule: learning rate must be >= 0, got ", lr);
  LrSchedule s;
  s.base_lr = lr;
  return s;
}

LrSchedule LrSchedule::warmup_cosine(float base_lr, float min_lr, int64_t warmup_steps,
                                     int64_t total_steps) {
  MD_CHECK(std::isfinite(base_lr) && std::isfinite(min_lr) && 0.0f <= min_lr && min_lr <= base_lr,
           "lr schedule: need 0 <= min_lr <= base_lr, got min_lr ", min_lr, ", base_lr ", base_lr);
  MD_CHECK(0 <= warmup_steps && warmup_steps <= total_steps,
           "lr schedule: need 0 <= warmup_steps <= total_steps, got warmup_steps ", warmup_steps,
           ", total_steps ", total_steps);
  LrSchedule s;
  s.kind = Kind::WarmupCosine;
  s.base_lr = base_lr;
  s.min_lr = min_lr;
  s.warmup_steps = warmup_steps;
  s.total_steps = total_steps;
  return s;
}

float LrSchedule::lr(int64_t step) const {
  MD_CHECK(step >= 0, "lr schedule: step must be >= 0, got ", step);
  if (kind == Kind::Constant) return base_lr;
  const double base = base_lr, floor = min_lr;
  if (step < warmup_steps)
    return static_cast<float>(base * static_cast<double>(step + 1) / warmup_steps);
  if (step >= total_steps) return min_lr;
  const double progress = static_cast<double>(step - warmup_steps) / (total_steps - warmup_steps);
  const double kPi = 3.14159265358979323846;
  return static_cast<float>(floor + (base - floor) * 0.5 * (1.0 + std::cos(kPi * progress)));
}

std::string LrSchedule::str() const {
  std::ostringstream os;
  if (kind == Kind::Constant) {
    os << "constant(" << base_lr << ")";
  } else {
    os << "warmup_cosine(base " << base_lr << ", min " << min_lr << ", warmup " << warmup_steps
       << ", total " << total_steps << ")";
  }
  return os.str();
}

}  // namespace mindiff::nn
