// group_norm and layer_norm (formulas, derivative and shapes in norm.h). Both run the same
// fused CPU kernels on x viewed as a contiguous [B, C, S]: group (b, g) is then the contiguous
// run of Cg * S elements starting at row n = b * G + g times Cg * S.
//   forward:  one pass per group (threaded over the B * G groups) computes mu and rstd in double,
//             saves them as [B * G] floats, and writes y.
//   backward: dx in one pass per group (threaded over groups); dweight and dbias in a second pass
//             threaded over blocks of channels, each channel summing over b then s in a fixed
//             order, so the result does not depend on the thread count.
#include "tensor/ops/norm.h"

#include <cmath>

#include "cuda/norm.h"
#include "tensor/ops/common.h"

namespace mindiff {

namespace {

const OpInfo kGroupNorm("group_norm"), kLayerNorm("layer_norm");

constexpr int64_t kSerialBelow = 32768;  // elements; smaller tensors run on one thread
constexpr int64_t kChannelBlock = 16;    // channels per work item of the dweight/dbias pass

// x viewed as [B, C, S], split into G groups of Cg = C / G channels.
struct NormGeometry {
  int64_t B, C, G, S;
  int64_t cg() const { return C / G; }
  int64_t group_size() const { return C / G * S; }
  int64_t groups() const { return B * G; }
};

// A contiguous, detached copy (or the tensor itself) whose data() a kernel may index densely;
// undefined stays undefined.
Tensor dense(const Tensor& t) { return t.defined() ? t.detach().contiguous() : t; }

struct NormForward {
  Tensor y, mean, rstd;  // y like x; mean and rstd [B * G]
};

NormForward norm_forward_cpu(const Tensor& xc, const NormGeometry& geo, const Tensor& wc,
                             const Tensor& bc, float eps) {
  NormForward r{empty(xc.shape()), empty({geo.groups()}), empty({geo.groups()})};
  const float* x = xc.data();
  const float* w = wc.defined() ? wc.data() : nullptr;
  const float* bias = bc.defined() ? bc.data() : nullptr;
  float* y = r.y.data();
  float* mean = r.mean.data();
  float* rstd = r.rstd.data();
  const int64_t L = geo.group_size(), Cg = geo.cg(), S = geo.S, G = geo.G;
#pragma omp parallel for schedule(static) if (geo.groups() > 1 && xc.numel() >= kSerialBelow)
  for (int64_t n = 0; n < geo.groups(); ++n) {
    const float* xr = x + n * L;
    float* yr = y + n * L;
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2.
    double sum = 0.0;
    for (int64_t i = 0; i < L; ++i) sum += xr[i];
    const double mu = sum / static_cast<double>(L);
    double sq = 0.0;
    for (int64_t i = 0; i < L; ++i) {
      const double d = xr[i] - mu;
      sq += d * d;
    }
    const double rs = 1.0 / std::sqrt(sq / static_cast<double>(L) + eps);
    mean[n] = static_cast<float>(mu);
    rstd[n] = static_cast<float>(rs);
    const int64_t g = n % G;
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const int64_t c = g * Cg + ci;
      const float a = static_cast<float>(rs) * (w ? w[c] : 1.0f), shift = bias ? bias[c] : 0.0f;
      const float m = static_cast<float>(mu);
      for (int64_t s = 0; s < S; ++s) yr[ci * S + s] = (xr[ci * S + s] - m) * a + shift;
    }
  }
  return r;
}

// dx (like x) from dout, x (both dense [B, C, S]) and the saved statistics.
Tensor norm_backward_dx_cpu(const Tensor& gc, const Tensor& xc, const NormGeometry& geo,
                            const Tensor& wc, const Tensor& mean_t, const Tensor& rstd_t) {
  Tensor dx_t = empty(xc.shape());
  const float *dout = gc.data(), *x = xc.data(), *mean = mean_t.data(), *rstd = rstd_t.data();
  const float* w = wc.defined() ? wc.data() : nullptr;
  float* dx = dx_t.data();
  const int64_t L = geo.group_size(), Cg = geo.cg(), S = geo.S, G = geo.G;
#pragma omp parallel for schedule(static) if (geo.groups() > 1 && xc.numel() >= kSerialBelow)
  for (int64_t n = 0; n < geo.groups(); ++n) {
    const float *xr = x + n * L, *gr = dout + n * L;
    float* dr = dx + n * L;
    const float mu = mean[n], rs = rstd[n];
    const int64_t g = n % G;
    // mean(g) and mean(g * xhat) over the group, g = dout * w[c].
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const float wv = w ? w[g * Cg + ci] : 1.0f;
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = ci * S + s;
        const double gv = static_cast<double>(gr[i]) * wv;
        sum_g += gv;
        sum_gx += gv * ((xr[i] - mu) * rs);
      }
    }
    const float mg = static_cast<float>(sum_g / static_cast<double>(L));
    const float mgx = static_cast<float>(sum_gx / static_cast<double>(L));
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const float wv = w ? w[g * Cg + ci] : 1.0f;
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = ci * S + s;
        dr[i] = rs * (gr[i] * wv - mg - (xr[i] - mu) * rs * mgx);
      }
    }
  }
  return dx_t;
}

// dweight[c] = sum_{b,s} dout * xhat and dbias[c] = sum_{b,s} dout, both [C] (either may be
// skipped by passing want_* false; the undefined result is returned then).
void norm_backward_affine_cpu(const Tensor& gc, const Tensor& xc, const NormGeometry& geo,
                              const Tensor& mean_t, const Tensor& rstd_t, bool want_dw,
                              bool want_db, Tensor& dw_t, Tensor& db_t) {
  if (want_dw) dw_t = empty({geo.C});
  if (want_db) db_t = empty({geo.C});
  const float *dout = gc.data(), *x = xc.data(), *mean = mean_t.data(), *rstd = rstd_t.data();
  float* dw = want_dw ? dw_t.data() : nullptr;
  float* db = want_db ? db_t.data() : nullptr;
  const int64_t C = geo.C, S = geo.S, Cg = geo.cg(), G = geo.G;
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for schedule(static) if (blocks > 1 && xc.numel() >= kSerialBelow)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kChannelBlock, c1 = c0 + kChannelBlock < C ? c0 + kChannelBlock : C;
    double acc_w[kChannelBlock] = {}, acc_b[kChannelBlock] = {};
    // b outer, channels of the block inner: for S = 1 (layer norm) this reads each row's block
    // of channels contiguously instead of striding down a column.
    for (int64_t b = 0; b < geo.B; ++b) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t n = b * G + c / Cg;
        const float mu = mean[n], rs = rstd[n];
        const float *xr = x + (b * C + c) * S, *gr = dout + (b * C + c) * S;
        double sw = 0.0, sb = 0.0;
        for (int64_t s = 0; s < S; ++s) {
          sw += static_cast<double>(gr[s]) * ((xr[s] - mu) * rs);
          sb += gr[s];
        }
        acc_w[c - c0] += sw;
        acc_b[c - c0] += sb;
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dw) dw[c] = static_cast<float>(acc_w[c - c0]);
      if (db) db[c] = static_cast<float>(acc_b[c - c0]);
    }
  }
}

// The differentiable op shared by group_norm and layer_norm: validates nothing (the callers do),
// runs the kernels on x as [B, C, S], and records `op`.
Tensor affine_norm(const OpInfo& op, const Tensor& x, const NormGeometry& geo,
                   const Tensor& weight, const Tensor& bias, float eps) {
  Tensor xc = dense(x), wc = dense(weight), bc = dense(bias);
  const bool on_cuda = xc.device() == Device::CUDA;
  const NormShape shape{geo.B, geo.C, geo.G, geo.S};  // the geometry for the CUDA launchers
  NormForward f;
  if (on_cuda)
    norm_forward_cuda(xc, shape, wc, bc, eps, f.y, f.mean, f.rstd);
  else
    f = norm_forward_cpu(xc, geo, wc, bc, eps);
  Tensor y = f.y;  // x's shape (xc has it too)
  if (needs_grad({x, weight, bias})) {
    const bool gx = x.requires_grad();
    const bool gw = weight.defined() && weight.requires_grad();
    const bool gb = bias.defined() && bias.requires_grad();
    record(op, y, {x, weight, bias},
           [xc, wc, geo, shape, on_cuda, mean = f.mean, rstd = f.rstd, gx, gw, gb,
            w_shape = weight.defined() ? weight.shape() : Shape(),
            b_shape = bias.defined() ? bias.shape() : Shape()](const Tensor& dout) {
             Tensor gc = dense(dout);
             Tensor dx, dw, db;
             if (gx)
               dx = on_cuda ? norm_backward_dx_cuda(gc, xc, shape, wc, mean, rstd)
                            : norm_backward_dx_cpu(gc, xc, geo, wc, mean, rstd);
             if ((gw || gb) && on_cuda)
               norm_backward_affine_cuda(gc, xc, shape, mean, rstd, gw, gb, dw, db);
             else if (gw || gb)
               norm_backward_affine_cpu(gc, xc, geo, mean, rstd, gw, gb, dw, db);
             if (gw) dw = dw.view(w_shape);
             if (gb) db = db.view(b_shape);
             return std::vector<Tensor>{dx, dw, db};
           });
  }
  return y;
}

}  // namespace

Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                  float eps) {
  common_device("group_norm", {x, weight, bias});
  const Shape& s = x.shape();
  MD_CHECK(s.ndim() >= 2, "group_norm: expects x of shape [B, C, H, W], [B, C, L] or [B, C], got ",
           s.str());
  const int64_t C = s[1];
  MD_CHECK(num_groups >= 1 && C % num_groups == 0, "group_norm: C = ", C, " channels of x ",
           s.str(), " are not divisible into G = ", num_groups, " groups");
  MD_CHECK(eps >= 0.0f, "group_norm: eps must be non-negative, got ", eps);
  for (const Tensor* t : {&weight, &bias})
    MD_CHECK(!t->defined() || t->shape() == Shape({C}), "group_norm: ",
             t == &weight ? "weight" : "bias", " of shape ", t->shape().str(), " must be [C] = [",
             C, "] for x ", s.str());
  int64_t S = 1;
  for (int a = 2; a < s.ndim(); ++a) S *= s[a];
  return affine_norm(kGroupNorm, x, NormGeometry{s[0], C, num_groups, S}, weight, bias, eps);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps) {
  common_device("layer_norm", {x, weight, bias});
  const Shape& s = x.shape();
  const int k = normalized_shape.ndim(), lead = s.ndim() - k;
  bool match = k >= 1 && lead >= 0;
  for (int a = 0; match && a < k; ++a) match = s[lead + a] == normalized_shape[a];
  MD_CHECK(match, "layer_norm: normalized_shape ", normalized_shape.str(),
           " does not match the trailing axes of x ", s.str());
  MD_CHECK(eps >= 0.0f, "layer_norm: eps must be non-negative, got ", eps);
  for (const Tensor* t : {&weight, &bias})
    MD_CHECK(!t->defined() || t->shape() == normalized_shape, "layer_norm: ",
             t == &weight ? "weight" : "bias", " of shape ", t->shape().str(),
             " must equal normalized_shape ", normalized_shape.str());
  // Rows of N = numel(normalized_shape) elements, each one group of N single-element channels.
  const int64_t N = normalized_shape.numel();
  const int64_t rows = N == 0 ? 0 : x.numel() / N;
  return affine_norm(kLayerNorm, x, NormGeometry{rows, N, 1, 1}, weight, bias, eps);
}

}  // namespace mindiff
