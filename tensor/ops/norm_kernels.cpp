// CPU kernels of the normalisations (see norm_kernels.h for the passes and the summation order).
#include "tensor/ops/norm_kernels.h"

#include <cmath>
#include <vector>

#include "tensor/ops/vector_math.h"

namespace mindiff {

namespace {

constexpr int64_t kSerialBelow = 32768;  // elements; smaller tensors run on one thread
constexpr int64_t kChannelBlock = 16;    // channels per work item of the dweight/dbias pass
constexpr int kLanes = 8;                // float lanes of the partial sums: one AVX2 register
constexpr int64_t kSumBlock = 256;       // elements per float block (32 per lane) of a sum

// sum over i in [0, n) of f(i) (and of h(i) for the two-sum form), in the fixed order of
// norm_kernels.h: lane j of a block takes elements i0 + j, i0 + j + 8, ...; the lanes of each
// block are then added into a double in lane order. `omp simd` makes the inner j-loop one vector
// add (lanes are independent, so this reorders nothing); without it GCC vectorises the outer loop
// instead, across blocks of one lane, with shuffles and a scalar chain of adds.
template <class F>
double lane_sum(int64_t n, F f) {
  double total = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += kSumBlock) {
    const int64_t i1 = i0 + kSumBlock < n ? i0 + kSumBlock : n;
    float lane[kLanes] = {};
    int64_t i = i0;
    for (; i + kLanes <= i1; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) lane[j] += f(i + j);
    }
    for (int j = 0; i < i1; ++i, ++j) lane[j] += f(i);
    for (int j = 0; j < kLanes; ++j) total += lane[j];
  }
  return total;
}

template <class F, class H>
void lane_sum2(int64_t n, F f, H h, double& sum_f, double& sum_h) {
  sum_f = 0.0;
  sum_h = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += kSumBlock) {
    const int64_t i1 = i0 + kSumBlock < n ? i0 + kSumBlock : n;
    float lf[kLanes] = {}, lh[kLanes] = {};
    int64_t i = i0;
    for (; i + kLanes <= i1; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) {
        lf[j] += f(i + j);
        lh[j] += h(i + j);
      }
    }
    for (int j = 0; i < i1; ++i, ++j) {
      lf[j] += f(i);
      lh[j] += h(i);
    }
    for (int j = 0; j < kLanes; ++j) {
      sum_f += lf[j];
      sum_h += lh[j];
    }
  }
}

template <NormAct act>
void forward_groups(const float* x, const NormGeometry& geo, const float* w, const float* bias,
                    float eps, float* y, float* mean, float* rstd, bool threaded) {
  const int64_t L = geo.group_size(), Cg = geo.cg(), S = geo.S, G = geo.G;
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t n = 0; n < geo.groups(); ++n) {
    const float* xr = x + n * L;
    float* yr = y + n * L;
    const float mu = static_cast<float>(lane_sum(L, [xr](int64_t i) { return xr[i]; }) / L);
    // Deviations from the float mean: its rounding adds (mu_exact - mu)^2 ~ (1e-7 mu)^2 to var.
    const double var = lane_sum(L, [xr, mu](int64_t i) {
                         const float d = xr[i] - mu;
                         return d * d;
                       }) / L;
    const float rs = static_cast<float>(1.0 / std::sqrt(var + eps));
    mean[n] = mu;
    rstd[n] = rs;
    const int64_t g = n % G;
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const int64_t c = g * Cg + ci;
      const float a = rs * (w ? w[c] : 1.0f), shift = bias ? bias[c] : 0.0f;
      const float* xc = xr + ci * S;
      float* yc = yr + ci * S;
      for (int64_t s = 0; s < S; ++s) {
        const float pre = (xc[s] - mu) * a + shift;
        if constexpr (act == NormAct::Silu)
          yc[s] = silu_vec(pre);
        else
          yc[s] = pre;
      }
    }
  }
}

// Passes 1 and 2 of the backward (norm_kernels.h). p_b, p_w: [B, C] per-channel partial sums.
// dx: the output, and for Silu the scratch for gp (so it must exist even when dx is not wanted).
template <NormAct act>
void backward_groups(const float* dout, const float* x, const NormGeometry& geo, const float* w,
                     const float* bias, const float* mean, const float* rstd, bool want_dx,
                     float* dx, double* p_b, double* p_w, bool threaded) {
  const int64_t L = geo.group_size(), Cg = geo.cg(), S = geo.S, G = geo.G, C = geo.C;
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t n = 0; n < geo.groups(); ++n) {
    const int64_t b = n / G, g = n % G;
    const float mu = mean[n], rs = rstd[n];
    double sum_gw = 0.0, sum_gwx = 0.0;  // sum(gp * w) and sum(gp * w * xhat) over the group
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const int64_t c = g * Cg + ci, off = n * L + ci * S;
      const float* xc = x + off;
      const float* gp = dout + off;
      if constexpr (act == NormAct::Silu) {
        // gp = dout * silu'(pre), pre recomputed exactly as the forward computed it.
        const float a = rs * (w ? w[c] : 1.0f), shift = bias ? bias[c] : 0.0f;
        float* gs = dx + off;
        for (int64_t s = 0; s < S; ++s) gs[s] = gp[s] * silu_grad_vec((xc[s] - mu) * a + shift);
        gp = gs;
      }
      double sb, sw;
      lane_sum2(
          S, [gp](int64_t s) { return gp[s]; },
          [gp, xc, mu, rs](int64_t s) { return gp[s] * ((xc[s] - mu) * rs); }, sb, sw);
      p_b[b * C + c] = sb;
      p_w[b * C + c] = sw;
      const double wv = w ? w[c] : 1.0;
      sum_gw += wv * sb;
      sum_gwx += wv * sw;
    }
    if (!want_dx) continue;
    const float mg = static_cast<float>(sum_gw / L), mgx = static_cast<float>(sum_gwx / L);
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const int64_t c = g * Cg + ci, off = n * L + ci * S;
      const float wv = w ? w[c] : 1.0f;
      const float* xc = x + off;
      // For Silu gp lies in dx itself: each element is read before it is overwritten.
      const float* gp = act == NormAct::Silu ? dx + off : dout + off;
      float* dc = dx + off;
      for (int64_t s = 0; s < S; ++s) dc[s] = rs * (gp[s] * wv - mg - (xc[s] - mu) * rs * mgx);
    }
  }
}

}  // namespace

NormForward norm_forward_cpu(const Tensor& xt, const NormGeometry& geo, const Tensor& wt,
                             const Tensor& bt, float eps, NormAct act) {
  NormForward r{empty(xt.shape()), empty({geo.groups()}), empty({geo.groups()})};
  const float* w = wt.defined() ? wt.data() : nullptr;
  const float* bias = bt.defined() ? bt.data() : nullptr;
  const bool threaded = geo.groups() > 1 && xt.numel() >= kSerialBelow;
  if (act == NormAct::Silu)
    forward_groups<NormAct::Silu>(xt.data(), geo, w, bias, eps, r.y.data(), r.mean.data(),
                                  r.rstd.data(), threaded);
  else
    forward_groups<NormAct::None>(xt.data(), geo, w, bias, eps, r.y.data(), r.mean.data(),
                                  r.rstd.data(), threaded);
  return r;
}

NormGrads norm_backward_cpu(const Tensor& gt, const Tensor& xt, const NormGeometry& geo,
                            const Tensor& wt, const Tensor& bt, const Tensor& mean,
                            const Tensor& rstd, NormAct act, bool want_dx, bool want_dw,
                            bool want_db) {
  NormGrads r;
  // Silu keeps gp in dx's buffer between the passes, so it needs the buffer either way.
  Tensor dx = want_dx || act == NormAct::Silu ? empty(xt.shape()) : Tensor();
  std::vector<double> p_b(geo.B * geo.C), p_w(geo.B * geo.C);
  const float* w = wt.defined() ? wt.data() : nullptr;
  const float* bias = bt.defined() ? bt.data() : nullptr;
  float* dxp = dx.defined() ? dx.data() : nullptr;
  const bool threaded = geo.groups() > 1 && xt.numel() >= kSerialBelow;
  if (act == NormAct::Silu)
    backward_groups<NormAct::Silu>(gt.data(), xt.data(), geo, w, bias, mean.data(), rstd.data(),
                                   want_dx, dxp, p_b.data(), p_w.data(), threaded);
  else
    backward_groups<NormAct::None>(gt.data(), xt.data(), geo, w, bias, mean.data(), rstd.data(),
                                   want_dx, dxp, p_b.data(), p_w.data(), threaded);
  if (want_dx) r.dx = dx;
  if (!want_dw && !want_db) return r;

  // dweight[c] = sum_b P_w[b, c], dbias[c] = sum_b P_b[b, c]: b outer, the block's channels
  // inner (contiguous in P), b in ascending order whatever the threads.
  const int64_t B = geo.B, C = geo.C, blocks = (C + kChannelBlock - 1) / kChannelBlock;
  if (want_dw) r.dweight = empty({C});
  if (want_db) r.dbias = empty({C});
  float* dw = want_dw ? r.dweight.data() : nullptr;
  float* db = want_db ? r.dbias.data() : nullptr;
#pragma omp parallel for schedule(static) if (blocks > 1 && B * C >= kSerialBelow)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kChannelBlock, c1 = c0 + kChannelBlock < C ? c0 + kChannelBlock : C;
    double acc_w[kChannelBlock] = {}, acc_b[kChannelBlock] = {};
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = c0; c < c1; ++c) {
        acc_w[c - c0] += p_w[b * C + c];
        acc_b[c - c0] += p_b[b * C + c];
      }
    for (int64_t c = c0; c < c1; ++c) {
      if (dw) dw[c] = static_cast<float>(acc_w[c - c0]);
      if (db) db[c] = static_cast<float>(acc_b[c - c0]);
    }
  }
  return r;
}

}  // namespace mindiff
