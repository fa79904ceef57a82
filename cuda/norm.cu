// group_norm / layer_norm on the GPU (see norm.h and tensor/ops/norm.h for the formulas): the CPU
// kernels' passes, each parallelised over a block; and group_norm_silu fused, forward and backward.
//
// With x dense [B, C, S], group n = b * G + g is the contiguous run of L = Cg * S elements at
// x + n * L (channel c = g * Cg + i / S for the group's element i). So
//   forward      block per group: mean (block sum), variance (second block sum of squared
//                deviations from the mean), then y; the statistics in double as on the CPU.
//                With SiLU (group_norm_silu) the same kernel applies silu to y before the one
//                write: y = silu(pre), pre = xhat * w[c] + b[c].
//   backward dx  block per group: the two sums mean(g) and mean(g * xhat), then dx.
//   dw, db       block per channel c: sums over its B * S elements (b, s), which are B runs of S
//                consecutive elements, S * C apart.
//   SiLU backward (norm_silu_backward_cuda), two launches:
//     1. block per group: for each of its Cg channels in turn, the block sums over the channel's
//        S elements P_b[b, c] = sum_s gp and P_w[b, c] = sum_s gp * xhat, with
//        gp = dout * silu'(pre) (pre recomputed from x and the saved mean and rstd), and keeps
//        sum_c w[c] P_b and sum_c w[c] P_w (the group's sum(gp w) and sum(gp w xhat)); then dx
//        over the group, gp recomputed once more. x and dout are read twice, the second time
//        soon after the first (a group is a few KiB to a few hundred, likely still in L2);
//        neither pre nor gp is ever written.
//     2. thread per channel: dweight[c] = sum_b P_w[b, c], dbias[c] = sum_b P_b[b, c], b
//        ascending: the CPU's order (norm_kernels.cpp).
//     Against the composition silu(group_norm(x)) this saves silu's pass (read dout and pre,
//     write gp), the pre tensor the forward would keep, and the strided dw/db pass over x.
// Every block reduction is block_all_reduce (warp shuffles, then shared memory), in a fixed
// order: deterministic, and equal to the CPU up to the order of the double sums. No atomics.
#include "cuda/norm.h"

#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"
#include "tensor/ops/scalar_math.h"

namespace mindiff {

namespace {

using cuda::SumOp;

// The statistics of one group of `len` elements at xr, in double (two passes: the mean, then the
// mean squared deviation from it, which avoids the cancellation of E[x^2] - E[x]^2), in every
// thread of the block.
__device__ void group_statistics(const float* xr, int64_t len, float eps, double& mu, double& rs) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) s += xr[i];
  mu = cuda::block_all_reduce(s, SumOp<double>(), 0.0) / static_cast<double>(len);
  double sq = 0.0;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
    const double d = xr[i] - mu;
    sq += d * d;
  }
  sq = cuda::block_all_reduce(sq, SumOp<double>(), 0.0);
  rs = 1.0 / sqrt(sq / static_cast<double>(len) + eps);
}

// The channel (within the group) and position of a thread's element i = ci * S + s as i steps by
// blockDim.x = dq * S + dr: one compare instead of a 64-bit division per element.
struct ChannelCursor {
  int64_t ci, s, dq, dr, S;
  __device__ ChannelCursor(int64_t i, int64_t step, int64_t S_)
      : ci(i / S_), s(i % S_), dq(step / S_), dr(step % S_), S(S_) {}
  __device__ void advance() {
    ci += dq;
    s += dr;
    if (s >= S) {
      s -= S;
      ++ci;
    }
  }
};

// y = pre = xhat * w[c] + b[c], or silu(pre) when kSilu; mean and rstd [B * G] saved for backward.
template <bool kSilu>
__global__ void norm_forward_kernel(const float* x, NormGeometry g, const float* w, const float* bias,
                                    float eps, float* y, float* mean, float* rstd) {
  const int64_t cg = g.C / g.G, len = cg * g.S, groups = g.B * g.G;
  for (int64_t n = blockIdx.x; n < groups; n += gridDim.x) {
    const float* xr = x + n * len;
    float* yr = y + n * len;
    double mu, rs;
    group_statistics(xr, len, eps, mu, rs);
    if (threadIdx.x == 0) {
      mean[n] = static_cast<float>(mu);
      rstd[n] = static_cast<float>(rs);
    }
    const int64_t first_channel = (n % g.G) * cg;
    const float m = static_cast<float>(mu);
    ChannelCursor at(threadIdx.x, blockDim.x, g.S);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x, at.advance()) {
      const int64_t c = first_channel + at.ci;
      const float a = static_cast<float>(rs) * (w ? w[c] : 1.0f), shift = bias ? bias[c] : 0.0f;
      const float pre = (xr[i] - m) * a + shift;
      yr[i] = kSilu ? silu_f(pre) : pre;
    }
  }
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = dout * w[c].
__global__ void norm_backward_dx_kernel(const float* dout, const float* x, NormGeometry g,
                                        const float* w, const float* mean, const float* rstd,
                                        float* dx) {
  const int64_t cg = g.C / g.G, len = cg * g.S, groups = g.B * g.G;
  for (int64_t n = blockIdx.x; n < groups; n += gridDim.x) {
    const float *xr = x + n * len, *gr = dout + n * len;
    float* dr = dx + n * len;
    const float mu = mean[n], rs = rstd[n];
    const int64_t first_channel = (n % g.G) * cg;
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const float wv = w ? w[first_channel + i / g.S] : 1.0f;
      const double gv = static_cast<double>(gr[i]) * wv;
      sum_g += gv;
      sum_gx += gv * ((xr[i] - mu) * rs);
    }
    sum_g = cuda::block_all_reduce(sum_g, SumOp<double>(), 0.0);
    sum_gx = cuda::block_all_reduce(sum_gx, SumOp<double>(), 0.0);
    const float mg = static_cast<float>(sum_g / static_cast<double>(len));
    const float mgx = static_cast<float>(sum_gx / static_cast<double>(len));
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const float wv = w ? w[first_channel + i / g.S] : 1.0f;
      dr[i] = rs * (gr[i] * wv - mg - (xr[i] - mu) * rs * mgx);
    }
  }
}

// dw[c] = sum_{b,s} dout * xhat,  db[c] = sum_{b,s} dout; element j of channel c is (b, s) =
// (j / S, j % S) at offset (b * C + c) * S + s.
__global__ void norm_backward_affine_kernel(const float* dout, const float* x, NormGeometry g,
                                            const float* mean, const float* rstd, float* dw,
                                            float* db) {
  const int64_t cg = g.C / g.G, count = g.B * g.S;
  for (int64_t c = blockIdx.x; c < g.C; c += gridDim.x) {
    double sw = 0.0, sb = 0.0;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t b = j / g.S, s = j % g.S, n = b * g.G + c / cg;
      const int64_t off = (b * g.C + c) * g.S + s;
      sw += static_cast<double>(dout[off]) * ((x[off] - mean[n]) * rstd[n]);
      sb += dout[off];
    }
    sw = cuda::block_all_reduce(sw, SumOp<double>(), 0.0);
    sb = cuda::block_all_reduce(sb, SumOp<double>(), 0.0);
    if (threadIdx.x == 0) {
      if (dw) dw[c] = static_cast<float>(sw);
      if (db) db[c] = static_cast<float>(sb);
    }
  }
}

// group_norm_silu's backward, pass 1 and dx (file comment): block per group n = (b, g), with
// pre = (x - mean) * (rstd w[c]) + b[c] exactly as the forward computed it and
// gp = dout * silu'(pre). For each channel c of the group (the whole block on its S elements):
//   P_b[b, c] = sum_s gp,  P_w[b, c] = sum_s gp * xhat             (to p_b, p_w when not null)
// then, over the group, mean(gp w) = sum_c w[c] P_b / L and mean(gp w xhat) = sum_c w[c] P_w / L
// (channels ascending, in double, as the CPU), and
//   dx = rstd * (gp w - mean(gp w) - xhat mean(gp w xhat))          (when dx is not null)
// p_b and p_w are [B, C] doubles.
__global__ void norm_silu_backward_kernel(const float* dout, const float* x, NormGeometry g,
                                          const float* w, const float* bias, const float* mean,
                                          const float* rstd, float* dx, double* p_b,
                                          double* p_w) {
  const int64_t cg = g.C / g.G, S = g.S, len = cg * S, groups = g.B * g.G;
  for (int64_t n = blockIdx.x; n < groups; n += gridDim.x) {
    const float mu = mean[n], rs = rstd[n];
    const int64_t b = n / g.G, first_channel = (n % g.G) * cg;
    double sum_gw = 0.0, sum_gwx = 0.0;
    for (int64_t ci = 0; ci < cg; ++ci) {
      const int64_t c = first_channel + ci;
      const float* xc = x + n * len + ci * S;
      const float* dc = dout + n * len + ci * S;
      const float wv = w ? w[c] : 1.0f, a = rs * wv, shift = bias ? bias[c] : 0.0f;
      double sb = 0.0, sw = 0.0;
      for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
        const float gp = dc[s] * silu_grad_f((xc[s] - mu) * a + shift);
        sb += gp;
        sw += static_cast<double>(gp) * ((xc[s] - mu) * rs);
      }
      sb = cuda::block_all_reduce(sb, SumOp<double>(), 0.0);
      sw = cuda::block_all_reduce(sw, SumOp<double>(), 0.0);
      if (threadIdx.x == 0 && p_b) {
        p_b[b * g.C + c] = sb;
        p_w[b * g.C + c] = sw;
      }
      sum_gw += static_cast<double>(wv) * sb;
      sum_gwx += static_cast<double>(wv) * sw;
    }
    if (!dx) continue;  // the same for every thread: no barrier is skipped by some only
    const float mg = static_cast<float>(sum_gw / static_cast<double>(len));
    const float mgx = static_cast<float>(sum_gwx / static_cast<double>(len));
    for (int64_t ci = 0; ci < cg; ++ci) {
      const int64_t c = first_channel + ci, off = n * len + ci * S;
      const float wv = w ? w[c] : 1.0f, a = rs * wv, shift = bias ? bias[c] : 0.0f;
      for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
        const float xv = x[off + s];
        const float gp = dout[off + s] * silu_grad_f((xv - mu) * a + shift);
        dx[off + s] = rs * (gp * wv - mg - (xv - mu) * rs * mgx);
      }
    }
  }
}

// Pass 2: dweight[c] = sum_b P_w[b, c], dbias[c] = sum_b P_b[b, c] (b ascending), one thread per
// channel (neighbouring threads read neighbouring channels of one row b).
__global__ void norm_affine_from_partials_kernel(const double* p_b, const double* p_w,
                                                 int64_t B, int64_t C, float* dw, float* db) {
  for (int64_t c = cuda::first_index(); c < C; c += cuda::grid_stride()) {
    double sw = 0.0, sb = 0.0;
    for (int64_t b = 0; b < B; ++b) {
      sw += p_w[b * C + c];
      sb += p_b[b * C + c];
    }
    if (dw) dw[c] = static_cast<float>(sw);
    if (db) db[c] = static_cast<float>(sb);
  }
}

unsigned capped(int64_t n) { return static_cast<unsigned>(n < 65535 ? (n < 1 ? 1 : n) : 65535); }
const float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

template <bool kSilu>
void forward(const Tensor& x, const NormGeometry& g, const Tensor& weight, const Tensor& bias,
             float eps, Tensor& y, Tensor& mean, Tensor& rstd) {
  y = empty(x.shape(), Device::CUDA);
  mean = empty({g.B * g.G}, Device::CUDA);
  rstd = empty({g.B * g.G}, Device::CUDA);
  if (g.B * g.G == 0 || x.numel() == 0) return;
  MD_LAUNCH(norm_forward_kernel<kSilu>, capped(g.B * g.G), cuda::reduce_threads(g.C / g.G * g.S),
            0, x.data(), g, data_or_null(weight), data_or_null(bias), eps, y.data(), mean.data(),
            rstd.data());
}

}  // namespace

void norm_forward_cuda(const Tensor& x, const NormGeometry& g, const Tensor& weight,
                       const Tensor& bias, float eps, Tensor& y, Tensor& mean, Tensor& rstd) {
  forward<false>(x, g, weight, bias, eps, y, mean, rstd);
}

void norm_silu_forward_cuda(const Tensor& x, const NormGeometry& g, const Tensor& weight,
                            const Tensor& bias, float eps, Tensor& y, Tensor& mean, Tensor& rstd) {
  forward<true>(x, g, weight, bias, eps, y, mean, rstd);
}

Tensor norm_backward_dx_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                             const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  Tensor dx = empty(x.shape(), Device::CUDA);
  if (g.B * g.G == 0 || x.numel() == 0) return dx;
  MD_LAUNCH(norm_backward_dx_kernel, capped(g.B * g.G), cuda::reduce_threads(g.C / g.G * g.S), 0,
            dout.data(), x.data(), g, data_or_null(weight), mean.data(), rstd.data(), dx.data());
  return dx;
}

void norm_backward_affine_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                               const Tensor& mean, const Tensor& rstd, bool want_dw, bool want_db,
                               Tensor& dweight, Tensor& dbias) {
  if (want_dw) dweight = empty({g.C}, Device::CUDA);
  if (want_db) dbias = empty({g.C}, Device::CUDA);
  if (g.C == 0 || !(want_dw || want_db)) return;
  if (g.B * g.S == 0) {  // sums of nothing
    if (want_dw) dweight.fill_(0.0f);
    if (want_db) dbias.fill_(0.0f);
    return;
  }
  MD_LAUNCH(norm_backward_affine_kernel, capped(g.C), cuda::reduce_threads(g.B * g.S), 0,
            dout.data(), x.data(), g, mean.data(), rstd.data(),
            want_dw ? dweight.data() : nullptr, want_db ? dbias.data() : nullptr);
}

void norm_silu_backward_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                             const Tensor& weight, const Tensor& bias, const Tensor& mean,
                             const Tensor& rstd, bool want_dx, bool want_dw, bool want_db,
                             Tensor& dx, Tensor& dweight, Tensor& dbias) {
  if (want_dx) dx = empty(x.shape(), Device::CUDA);
  if (want_dw) dweight = empty({g.C}, Device::CUDA);
  if (want_db) dbias = empty({g.C}, Device::CUDA);
  const bool affine = want_dw || want_db;
  if (x.numel() == 0) {  // no element: dweight and dbias are sums of nothing
    if (want_dw) dweight.fill_(0.0f);
    if (want_db) dbias.fill_(0.0f);
    return;
  }
  if (!want_dx && !affine) return;
  // P_b and P_w: [B, C] doubles each, in one float tensor (the device's tensors hold floats).
  Tensor partials = affine ? empty({4 * g.B * g.C}, Device::CUDA) : Tensor();
  double* p_b = affine ? reinterpret_cast<double*>(partials.data()) : nullptr;
  double* p_w = affine ? p_b + g.B * g.C : nullptr;
  // Each block reduces over one channel's S elements at a time, so it has as many threads as S
  // can use (up to 256): all busy on the U-Net's maps of 16 x 16 and larger, one warp for
  // [B, C] inputs (S = 1), whose channels it then takes one by one.
  MD_LAUNCH(norm_silu_backward_kernel, capped(g.B * g.G), cuda::reduce_threads(g.S), 0,
            dout.data(), x.data(), g, data_or_null(weight), data_or_null(bias), mean.data(),
            rstd.data(), want_dx ? dx.data() : nullptr, p_b, p_w);
  if (!affine) return;
  MD_LAUNCH(norm_affine_from_partials_kernel, cuda::blocks_for(g.C), cuda::kBlockThreads, 0, p_b,
            p_w, g.B, g.C, want_dw ? dweight.data() : nullptr, want_db ? dbias.data() : nullptr);
}

}  // namespace mindiff
