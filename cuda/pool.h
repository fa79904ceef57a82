// CUDA launchers of avg_pool2d (tensor/ops/pool.cpp; formula in pool.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor avg_pool2d_cuda(const Tensor& x, int64_t kernel, int64_t stride);  // x [B, C, H, W]
Tensor avg_pool2d_backward_cuda(const Tensor& dout, const Shape& in_shape, int64_t kernel,
                                int64_t stride);

}  // namespace mindiff
