// The optimizers' and the weight EMA's updates as in-place operations on whole tensors (not
// differentiable: no autograd). Each applies a per-element rule of optim_math.h to every element,
// on the tensors' device: an OpenMP loop on the CPU (each element independent, so the result does
// not depend on the thread count), the kernels of cuda/optim.cu on CUDA. nn/optim.cpp and
// nn/ema.cpp keep the state and call these. All tensors contiguous, on one device, same shape.
#pragma once
#include <vector>

#include "tensor/ops/multi_tensor_geometry.h"
#include "tensor/ops/optim_math.h"
#include "tensor/tensor.h"

namespace mindiff {

// p, its gradient g, and the momentum buffer (undefined when momentum is 0).
void sgd_update_(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c);
void adam_update_(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                  const Tensor& exp_avg_sq, const AdamConsts& c);
void ema_update_(const Tensor& shadow, const Tensor& p, float one_minus_decay);

// The same updates over lists of tensors (element i of each list together; the lists of one
// length, their tensors as above): on CUDA every tensor in one launch (cuda/optim.h), with the
// parameters' and state's pointers in `table`'s device table, uploaded on the first call and
// again only when they change; on the CPU one tensor after another through the functions above
// (`table` unused). Either way the numbers are those of the per-tensor calls, bit for bit.
void adam_update_all_(MultiTensorTable& table, const std::vector<Tensor>& p,
                      const std::vector<Tensor>& g, const std::vector<Tensor>& exp_avg,
                      const std::vector<Tensor>& exp_avg_sq, const AdamConsts& c);
// momentum: one buffer per parameter, or empty when momentum is 0.
void sgd_update_all_(MultiTensorTable& table, const std::vector<Tensor>& p,
                     const std::vector<Tensor>& g, const std::vector<Tensor>& momentum,
                     const SgdConsts& c);
void ema_update_all_(MultiTensorTable& table, const std::vector<Tensor>& shadow,
                     const std::vector<Tensor>& p, float one_minus_decay);


// Clipping by global norm, in place: norm = sqrt(sum over the tensors of sum x^2), the squares
// summed in double in a fixed order; when the norm is finite and above max_norm, every tensor is
// multiplied by float(max_norm / (norm + 1e-6)) (PyTorch's clip_grad_norm_). Returns the norm as
// a scalar tensor on the tensors' device (CPU for an empty list). On the CPU: the squares in
// fixed chunks (the same sum for every thread count), then the scaling, tensor after tensor; on CUDA a few launches for the whole list and nothing read
// back (cuda/optim.h). Tensors contiguous, all on one device.
Tensor clip_global_norm_(const std::vector<Tensor>& xs, float max_norm);

}  // namespace mindiff
