// CUDA launcher of the sinusoidal embedding (tensor/ops/embedding.cpp; formula in
// tensor/ops/embedding.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// t [B] contiguous, emb [B, dim] contiguous with dim >= 2 half, both on the device: writes
// columns [0, 2 half) of emb (an odd last column is left as it is).
void sinusoidal_embedding_cuda(const Tensor& t, const Tensor& emb, int64_t half);

}  // namespace mindiff
