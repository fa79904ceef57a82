// CUDA launchers of upsample_nearest2d (tensor/ops/upsample.cpp; formulas in upsample.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor upsample_nearest2d_cuda(const Tensor& x, int64_t factor);           // x [B, C, H, W]
Tensor upsample_nearest2d_backward_cuda(const Tensor& dout, int64_t factor);  // dout [B, C, Hf, Wf]

}  // namespace mindiff
