// CUDA launcher of dropout's mask (tensor/ops/dropout.cpp; formula in dropout.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// In place on the uniforms u (contiguous, CUDA): u = scale where u > p, else 0.
void dropout_mask_cuda(const Tensor& u, float p, float scale);

}  // namespace mindiff
