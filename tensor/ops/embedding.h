// The sinusoidal embedding of a batch of times (Vaswani et al. 2017, as DDPM uses it for the
// diffusion time), computed where the times are: t [B] -> emb [B, dim] with h = dim / 2 and
//   emb[b, i]     = sin(t_b f_i),   emb[b, h + i] = cos(t_b f_i),   f_i = exp(-ln(10000) i / h),
// i < h, and a last column of zeros when dim is odd. Evaluated in double, rounded to float
// (embedding_math.h). Not differentiable in t (nothing upstream of a network's time is learned):
// the result is a constant of the graph.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// t: [B] (any strides), on either device; dim >= 2.
Tensor sinusoidal_embedding(const Tensor& t, int64_t dim);

}  // namespace mindiff
