// group_norm / layer_norm on the GPU (see norm.h and tensor/ops/norm.h for the formulas): the CPU
// kernels' passes, each parallelised over a block.
//
// With x dense [B, C, S], group n = b * G + g is the contiguous run of L = Cg * S elements at
// x + n * L (channel c = g * Cg + i / S for the group's element i). So
//   forward      block per group: mean (block sum), variance (second block sum of squared
//                deviations from the mean), then y; the statistics in double as on the CPU.
//   backward dx  block per group: the two sums mean(g) and mean(g * xhat), then dx.
//   dw, db       block per channel c: sums over its B * S elements (b, s), which are B runs of S
//                consecutive elements, S * C apart.
// Every block reduction is block_all_reduce (warp shuffles, then shared memory), in a fixed
// order: deterministic, and equal to the CPU up to the order of the double sums.
#include "cuda/norm.h"

#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"

namespace mindiff {

namespace {

using cuda::SumOp;

__global__ void norm_forward_kernel(const float* x, NormGeometry g, const float* w, const float* bias,
                                    float eps, float* y, float* mean, float* rstd) {
  const int64_t cg = g.C / g.G, len = cg * g.S, groups = g.B * g.G;
  for (int64_t n = blockIdx.x; n < groups; n += gridDim.x) {
    const float* xr = x + n * len;
    float* yr = y + n * len;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) s += xr[i];
    const double mu = cuda::block_all_reduce(s, SumOp<double>(), 0.0) / static_cast<double>(len);
    double sq = 0.0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const double d = xr[i] - mu;
      sq += d * d;
    }
    sq = cuda::block_all_reduce(sq, SumOp<double>(), 0.0);
    const double rs = 1.0 / sqrt(sq / static_cast<double>(len) + eps);
    if (threadIdx.x == 0) {
      mean[n] = static_cast<float>(mu);
      rstd[n] = static_cast<float>(rs);
    }
    const int64_t first_channel = (n % g.G) * cg;
    const float m = static_cast<float>(mu);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const int64_t c = first_channel + i / g.S;
      const float a = static_cast<float>(rs) * (w ? w[c] : 1.0f), shift = bias ? bias[c] : 0.0f;
      yr[i] = (xr[i] - m) * a + shift;
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

unsigned capped(int64_t n) { return static_cast<unsigned>(n < 65535 ? (n < 1 ? 1 : n) : 65535); }
const float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

}  // namespace

void norm_forward_cuda(const Tensor& x, const NormGeometry& g, const Tensor& weight,
                       const Tensor& bias, float eps, Tensor& y, Tensor& mean, Tensor& rstd) {
  y = empty(x.shape(), Device::CUDA);
  mean = empty({g.B * g.G}, Device::CUDA);
  rstd = empty({g.B * g.G}, Device::CUDA);
  if (g.B * g.G == 0 || x.numel() == 0) return;
  MD_LAUNCH(norm_forward_kernel, capped(g.B * g.G), cuda::reduce_threads(g.C / g.G * g.S), 0,
            x.data(), g, data_or_null(weight), data_or_null(bias), eps, y.data(), mean.data(),
            rstd.data());
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

}  // namespace mindiff
