// Group normalisation (also fused with SiLU) and layer normalisation, one set of kernels for all.
//
// Shapes: x [B, C, *] with * = (H, W), (L) or nothing; S = product of the * extents; G groups of
// Cg = C / G consecutive channels. A "group" is the Cg * S elements of one (b, g); for layer norm
// it is one row of the trailing normalized_shape (B = rows, C = that row's size, G = 1, S = 1).
//
// Forward, per group, with the biased variance (sums in float lanes, blocks added in double:
// tensor/ops/norm_kernels.h):
//   mu = mean(x),  var = mean((x - mu)^2),  rstd = 1 / sqrt(var + eps)
//   xhat = (x - mu) * rstd,  y[b, c, s] = xhat[b, c, s] * w[c] + b[c]
// (w = 1, b = 0 when weight / bias are undefined Tensor()).
//
// Backward, per group of n = Cg * S elements, with g = dout * w (dL/dxhat):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// because d(xhat_i)/d(x_j) = rstd * (delta_ij - 1/n - xhat_i xhat_j / n): the 1/n term comes
// through mu, the xhat_i xhat_j / n term through rstd (d var / d x_j = 2 (x_j - mu) / n).
//   dw[c] = sum over b, s of dout * xhat,   db[c] = sum over b, s of dout
//
// group_norm_silu fuses the activation that follows most group norms in a U-Net:
//   y = silu(pre),  pre = xhat * w[c] + b[c],  silu(v) = v sigmoid(v)
// Backward is group_norm's with dout replaced by gp = dout * silu'(pre),
// silu'(v) = s (1 + v (1 - s)), s = sigmoid(v); pre is recomputed from x and the saved mean and
// rstd, so neither the normalised tensor nor pre is ever stored: the forward reads x and writes y
// once, where group_norm then silu would write, read and write again, and keep pre alive for
// silu's backward.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// x [B, C, H, W], [B, C, L] or [B, C]; weight and bias [C] or undefined. C % num_groups == 0.
Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                  float eps = 1e-5f);

// silu(group_norm(x, ...)) in one op (arguments as group_norm's), fused on both devices.
Tensor group_norm_silu(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                       float eps = 1e-5f);

// Normalises over the trailing axes of x given by normalized_shape (e.g. {C} for the last axis);
// weight and bias have shape normalized_shape, or are undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps = 1e-5f);

}  // namespace mindiff
