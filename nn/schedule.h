// Learning-rate schedules: the lr to use for the update with index `step` (0 for the first
// update), set on the optimizer before each step():  opt.set_lr(schedule.lr(step)).
//
// Warm-up then cosine, with W = warmup_steps, T = total_steps, base = base_lr, floor = min_lr:
//   step < W:        lr = base (step + 1) / W            linear; the first update already moves,
//                                                        the W-th (step W-1) uses base
//   W <= step < T:   lr = floor + (base - floor) (1 + cos(pi (step - W) / (T - W))) / 2
//   step >= T:       lr = floor
// So lr(W) = base, lr(W + (T - W)/2) = (base + floor)/2, lr(T) = floor. Computed in double.
#pragma once
#include <cstdint>
#include <string>

namespace mindiff::nn {

struct LrSchedule {
  enum class Kind { Constant, WarmupCosine };
  Kind kind = Kind::Constant;
  float base_lr = 1e-3f;
  float min_lr = 0.0f;       // WarmupCosine only: the floor
  int64_t warmup_steps = 0;  // WarmupCosine only
  int64_t total_steps = 0;   // WarmupCosine only: the step at which the floor is reached

  static LrSchedule constant(float lr);
  // Checks 0 <= min_lr <= base_lr, 0 <= warmup_steps <= total_steps.
  static LrSchedule warmup_cosine(float base_lr, float min_lr, int64_t warmup_steps,
                                  int64_t total_steps);

  float lr(int64_t step) const;  // step >= 0
  std::string str()
      const;  // e.g. "warmup_cosine(base 0.0002, min 1e-06, warmup 500, total 100000)"
};

}  // namespace mindiff::nn
