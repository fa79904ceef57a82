// CUDA launchers of the losses (tensor/ops/loss.cpp; formulas in loss.h). Scalars stay on the
// device: the loss is a rank-0 CUDA tensor, and backward reads dout there.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// (1/N) sum (pred - target)^2 for contiguous pred and target of one shape.
Tensor mse_loss_cuda(const Tensor& pred, const Tensor& target);
// k * dout * 2 (pred - target) / N with k = +1 (dpred) or -1 (dtarget).
Tensor mse_loss_backward_cuda(const Tensor& pred, const Tensor& target, const Tensor& dout, float k);

// logits [B, K] (any strides); targets [B] holding the class indices as floats (exact below 2^24).
Tensor cross_entropy_cuda(const Tensor& logits, const Tensor& targets);
Tensor cross_entropy_backward_cuda(const Tensor& logits, const Tensor& targets, const Tensor& dout);

}  // namespace mindiff
