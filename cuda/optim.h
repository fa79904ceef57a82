// CUDA launchers of the optimizer and EMA updates of tensor/ops/optim.h (the per-element rules of
// tensor/ops/optim_math.h, shared with its CPU loops) and of the gradient-norm clipping's two
// steps. All tensors contiguous and on the device.
#pragma once
#include "tensor/ops/optim_math.h"
#include "tensor/tensor.h"

namespace mindiff {

// p, g, and the momentum buffer (undefined when momentum is 0).
void sgd_update_cuda(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c);
void adam_update_cuda(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamConsts& c);
void ema_update_cuda(const Tensor& shadow, const Tensor& p, float one_minus_decay);
// sum_k x_k^2 in double (deterministic), returned to the host.
double sum_squares_cuda(const Tensor& x);
// x *= s in place.
void scale_cuda(const Tensor& x, float s);

}  // namespace mindiff
