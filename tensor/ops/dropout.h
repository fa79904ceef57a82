// Inverted dropout: during training each element is zeroed with probability p and the survivors
// are scaled by 1 / (1 - p), so E[y] = x and nothing needs rescaling at evaluation time.
//
// Shapes: x of any shape; y like x. With u_i ~ U(0, 1] the i-th uniform drawn from `gen` for the
// i-th element of x in row-major order, keep_i = [u_i > p] (probability 1 - p):
//   forward:  y_i = x_i * keep_i / (1 - p)
//   backward: dx_i = dout_i * keep_i / (1 - p)
// The mask depends only on (gen.seed, gen.offset) and the element's position: the same generator
// state gives the same mask on any thread count, and the draw advances gen like rand(x.shape(), gen).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// p in [0, 1). Returns x itself (and draws nothing) when !training or p == 0.
Tensor dropout(const Tensor& x, float p, Generator& gen, bool training = true);

}  // namespace mindiff
