// Nearest-neighbour upsampling of images by an integer factor f >= 1.
//
// Shapes: x [B, C, H, W] -> out [B, C, H*f, W*f].
//   forward:  out[b, c, i, j] = x[b, c, i / f, j / f]              (integer division)
//   backward: each input pixel was copied into one f x f block of the output, so
//             dx[b, c, p, q] = sum_{di, dj < f} dout[b, c, p*f + di, q*f + dj]
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor upsample_nearest2d(const Tensor& x, int factor);

}  // namespace mindiff
