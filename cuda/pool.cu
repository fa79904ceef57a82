// avg_pool2d on the GPU (see pool.h): one thread per element of the result, in the CPU kernels'
// summation order, so the two agree exactly. Backward gathers (each dx element sums the windows
// that contain it) instead of scattering window by window: every element has one writer, so no
// atomics are needed and the result is deterministic.
#include "cuda/pool.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::Image4;
using cuda::image4;

// out[b, c, i, j] = (1/k^2) sum_{di, dj < k} x[b, c, i s + di, j s + dj]
__global__ void avg_pool_kernel(Image4 x, int64_t C, int64_t Ho, int64_t Wo, int64_t k, int64_t s,
                                float* out, int64_t n) {
  const float scale = 1.0f / static_cast<float>(k * k);
  for (int64_t o = cuda::first_index(); o < n; o += cuda::grid_stride()) {
    const int64_t j = o % Wo, i = (o / Wo) % Ho, c = (o / (Wo * Ho)) % C, b = o / (Wo * Ho * C);
    const float* window = x.p + b * x.st[0] + c * x.st[1] + i * s * x.st[2] + j * s * x.st[3];
    float acc = 0.0f;
    for (int64_t di = 0; di < k; ++di)
      for (int64_t dj = 0; dj < k; ++dj) acc += window[di * x.st[2] + dj * x.st[3]];
    out[o] = acc * scale;
  }
}

// Windows along one axis containing position p: i with i s <= p <= i s + k - 1, 0 <= i < n_out.
__device__ __forceinline__ void windows_containing(int64_t p, int64_t k, int64_t s, int64_t n_out,
                                                   int64_t& lo, int64_t& hi) {
  lo = p - k + 1 <= 0 ? 0 : (p - k + s) / s;
  hi = p / s < n_out - 1 ? p / s : n_out - 1;
}

__global__ void avg_pool_backward_kernel(Image4 d, int64_t C, int64_t H, int64_t W, int64_t Ho,
                                         int64_t Wo, int64_t k, int64_t s, float* dx, int64_t n) {
  const float scale = 1.0f / static_cast<float>(k * k);
  for (int64_t o = cuda::first_index(); o < n; o += cuda::grid_stride()) {
    const int64_t q = o % W, p = (o / W) % H, c = (o / (W * H)) % C, b = o / (W * H * C);
    const float* plane = d.p + b * d.st[0] + c * d.st[1];
    int64_t i_lo, i_hi, j_lo, j_hi;
    windows_containing(p, k, s, Ho, i_lo, i_hi);
    windows_containing(q, k, s, Wo, j_lo, j_hi);
    float acc = 0.0f;
    for (int64_t i = i_lo; i <= i_hi; ++i)
      for (int64_t j = j_lo; j <= j_hi; ++j) acc += plane[i * d.st[2] + j * d.st[3]];
    dx[o] = acc * scale;
  }
}

}  // namespace

Tensor avg_pool2d_cuda(const Tensor& x, int64_t k, int64_t s) {
  const Shape& sh = x.shape();
  const int64_t Ho = (sh[2] - k) / s + 1, Wo = (sh[3] - k) / s + 1;
  Tensor out = empty({sh[0], sh[1], Ho, Wo}, Device::CUDA);
  const int64_t n = out.numel();
  if (n == 0) return out;
  MD_LAUNCH(avg_pool_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, image4(x), sh[1], Ho, Wo,
            k, s, out.data(), n);
  return out;
}

Tensor avg_pool2d_backward_cuda(const Tensor& dout, const Shape& in_shape, int64_t k, int64_t s) {
  Tensor dx = empty(in_shape, Device::CUDA);
  const int64_t n = dx.numel();
  if (n == 0) return dx;
  MD_LAUNCH(avg_pool_backward_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, image4(dout),
            in_shape[1], in_shape[2], in_shape[3], dout.shape()[2], dout.shape()[3], k, s,
            dx.data(), n);
  return dx;
}

}  // namespace mindiff
