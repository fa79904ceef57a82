// The CPU kernels behind group_norm, layer_norm and group_norm_silu (formulas in norm.h). Not ops:
// no autograd; norm.cpp validates the arguments, records the graph and dispatches CUDA.
//
// x is a dense (contiguous) [B, C, S]; G groups of Cg = C / G consecutive channels; group
// n = b * G + g is the contiguous run of L = Cg * S elements starting at n * L. An optional
// activation follows the affine map: act = None gives y = pre, act = Silu gives y = silu(pre),
// with pre = xhat * w[c] + b[c].
//
// Forward (threaded over the B * G groups): mean, then the mean squared deviation (two passes over
// the group, which stays in cache, avoid the cancellation of E[x^2] - E[x]^2), rstd, then y. The
// saved mean and rstd are [B * G] floats.
//
// Backward, with gp = dL/dpre = dout (None) or dout * silu'(pre) (Silu; pre recomputed from x,
// mean and rstd, so the forward never stores it):
//   pass 1 (per group): for each channel, P_b[b, c] = sum_s gp and P_w[b, c] = sum_s gp * xhat
//           (Silu stores gp in dx's buffer for pass 2); then the group's
//           sum(gp * w) = sum_c w[c] P_b[b, c],  sum(gp * w * xhat) = sum_c w[c] P_w[b, c];
//   pass 2 (per group): dx = rstd * (gp w - mean(gp w) - xhat mean(gp w xhat));
//   affine: dbias[c] = sum_b P_b[b, c], dweight[c] = sum_b P_w[b, c], b ascending, threaded over
//           blocks of channels.
// So x and dout are read twice (both passes run on one group, in cache), not three times.
//
// Sums are deterministic and do not depend on the thread count: each group or channel is summed
// by one thread in a fixed order. They run in 8 float lanes (one AVX2 register, so the compiler
// vectorises them) over blocks of at most 256 elements, and each block's lanes are added into a
// double: float partials of at most 32 terms, the rest in double.
#pragma once
#include "tensor/ops/norm_geometry.h"
#include "tensor/tensor.h"

namespace mindiff {

enum class NormAct { None, Silu };

struct NormForward {
  Tensor y, mean, rstd;  // y like x; mean and rstd [B * G]
};

struct NormGrads {
  Tensor dx, dweight, dbias;  // like x, [C], [C]; each undefined unless wanted
};

// weight and bias: dense [C] or undefined (1 and 0).
NormForward norm_forward_cpu(const Tensor& x, const NormGeometry& geo, const Tensor& weight,
                             const Tensor& bias, float eps, NormAct act);

// dout and x dense [B, C, S]; mean and rstd as saved by the forward. bias is read only for
// act = Silu (to recompute pre).
NormGrads norm_backward_cpu(const Tensor& dout, const Tensor& x, const NormGeometry& geo,
                            const Tensor& weight, const Tensor& bias, const Tensor& mean,
                            const Tensor& rstd, NormAct act, bool want_dx, bool want_dw,
                            bool want_db);

}  // namespace mindiff
