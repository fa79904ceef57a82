// CUDA launchers of softmax and log_softmax (tensor/ops/softmax.cpp; formulas in softmax.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// y = softmax(x) (or log_softmax when `log`) along `axis` (normalised), fresh and contiguous.
Tensor softmax_cuda(const Tensor& x, int axis, bool log);
// dx from the saved output y and dout (any strides).
Tensor softmax_backward_cuda(const Tensor& y, const Tensor& dout, int axis, bool log);

}  // namespace mindiff
