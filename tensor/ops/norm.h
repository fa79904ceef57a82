// Group normalisation and layer normalisation, one fused kernel for both.
//
// Shapes: x [B, C, *] with * = (H, W), (L) or nothing; S = product of the * extents; G groups of
// Cg = C / G consecutive channels. A "group" is the Cg * S elements of one (b, g); for layer norm
// it is one row of the trailing normalized_shape (B = rows, C = that row's size, G = 1, S = 1).
//
// Forward, per group, with statistics in double and the biased variance:
//   mu = mean(x),  var = mean((x - mu)^2),  rstd = 1 / sqrt(var + eps)
//   xhat = (x - mu) * rstd,  y[b, c, s] = xhat[b, c, s] * w[c] + b[c]
// (w = 1, b = 0 when weight / bias are undefined Tensor()).
//
// Backward, per group of n = Cg * S elements, with g = dout * w (dL/dxhat):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// because d(xhat_i)/d(x_j) = rstd * (delta_ij - 1/n - xhat_i xhat_j / n): the 1/n term comes
// through mu, the xhat_i xhat_j / n term through rstd (d var / d x_j = 2 (x_j - mu) / n).
//   dw[c] = sum over b, s of dout * xhat,   db[c] = sum over b, s of dout
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// x [B, C, H, W], [B, C, L] or [B, C]; weight and bias [C] or undefined. C % num_groups == 0.
Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                  float eps = 1e-5f);

// Normalises over the trailing axes of x given by normalized_shape (e.g. {C} for the last axis);
// weight and bias have shape normalized_shape, or are undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps = 1e-5f);

}  // namespace mindiff
