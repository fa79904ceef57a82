// Batched reading of the training losses (why in step_losses.h).
#include "diffusion/app/step_losses.h"

#include "tensor/error.h"
#include "tensor/ops/concat.h"

namespace mindiff::diffusion {

StepLosses::StepLosses(int64_t every) : every_(every) {
  MD_CHECK(every >= 1, "StepLosses: read every ", every, " steps is not a positive interval");
}

void StepLosses::add(int64_t step, const Tensor& loss, double lr, double seconds) {
  MD_CHECK(loss.defined() && loss.numel() == 1, "StepLosses: the loss of step ", step,
           " must be one value, got ", loss.defined() ? loss.shape().str() : std::string("nothing"));
  MD_CHECK(values_.empty() || loss.device() == values_.front().device(),
           "StepLosses: the loss of step ", step, " is on another device than the ones kept");
  // Detached: a kept loss must not keep its step's graph (and activations) alive. A view, not a
  // copy: nothing writes a loss once it is made.
  values_.push_back(loss.detach().reshape(Shape({1})));
  kept_.push_back(StepLoss{step, 0.0, lr, seconds});
}

std::vector<StepLoss> StepLosses::read() {
  std::vector<StepLoss> out;
  out.swap(kept_);
  if (out.empty()) return out;
  // One [n] tensor on the device, then one copy (to_vector) for all of them.
  const std::vector<float> v =
      values_.size() == 1 ? values_[0].to_vector() : concat(values_, 0).to_vector();
  values_.clear();
  for (size_t i = 0; i < out.size(); ++i) out[i].loss = static_cast<double>(v[i]);
  return out;
}

}  // namespace mindiff::diffusion
