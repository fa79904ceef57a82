// Average pooling over k x k windows with stride s, no padding.
//
// Shapes: x [B, C, H, W] -> out [B, C, Ho, Wo], Ho = floor((H - k) / s) + 1 (Wo likewise).
//   forward:  out[b, c, i, j] = (1 / k^2) sum_{di, dj < k} x[b, c, i*s + di, j*s + dj]
//   backward: every window spreads dout / k^2 over the pixels it covers:
//             dx[b, c, p, q] = (1 / k^2) sum over windows (i, j) containing (p, q) of dout[b, c, i, j]
//             where window i covers rows i*s .. i*s + k - 1. With s < k windows overlap and a
//             pixel gets several contributions; with s > k some pixels are in no window (dx = 0).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// `stride` 0 means stride = kernel (non-overlapping windows).
Tensor avg_pool2d(const Tensor& x, int kernel, int stride = 0);

}  // namespace mindiff
