// upsample_nearest2d on the GPU (see upsample.h): one thread per element of the result, reading
// its input through the strides (any view). Backward gathers each input pixel's f x f block of
// dout in the CPU's order (rows, then columns), so the sums agree exactly.
#include "cuda/upsample.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::Image4;
using cuda::image4;

// out [B, C, Ho, Wo] contiguous; element o = ((b C + c) Ho + i) Wo + j.
__global__ void upsample_kernel(Image4 x, int64_t C, int64_t Ho, int64_t Wo, int64_t f,
                                float* out, int64_t n) {
  for (int64_t o = cuda::first_index(); o < n; o += cuda::grid_stride()) {
    const int64_t j = o % Wo, i = (o / Wo) % Ho, c = (o / (Wo * Ho)) % C, b = o / (Wo * Ho * C);
    out[o] = x.p[b * x.st[0] + c * x.st[1] + (i / f) * x.st[2] + (j / f) * x.st[3]];
  }
}

// dx [B, C, H, W] contiguous: dx[b, c, p, q] = sum_{di, dj < f} dout[b, c, p f + di, q f + dj].
__global__ void upsample_backward_kernel(Image4 d, int64_t C, int64_t H, int64_t W, int64_t f,
                                         float* dx, int64_t n) {
  for (int64_t o = cuda::first_index(); o < n; o += cuda::grid_stride()) {
    const int64_t q = o % W, p = (o / W) % H, c = (o / (W * H)) % C, b = o / (W * H * C);
    const float* block = d.p + b * d.st[0] + c * d.st[1] + p * f * d.st[2] + q * f * d.st[3];
    float acc = 0.0f;
    for (int64_t di = 0; di < f; ++di)
      for (int64_t dj = 0; dj < f; ++dj) acc += block[di * d.st[2] + dj * d.st[3]];
    dx[o] = acc;
  }
}

}  // namespace

Tensor upsample_nearest2d_cuda(const Tensor& x, int64_t f) {
  const Shape& s = x.shape();
  Tensor out = empty({s[0], s[1], s[2] * f, s[3] * f}, Device::CUDA);
  const int64_t n = out.numel();
  if (n == 0) return out;
  MD_LAUNCH(upsample_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, image4(x), s[1],
            s[2] * f, s[3] * f, f, out.data(), n);
  return out;
}

Tensor upsample_nearest2d_backward_cuda(const Tensor& dout, int64_t f) {
  const Shape& s = dout.shape();
  Tensor dx = empty({s[0], s[1], s[2] / f, s[3] / f}, Device::CUDA);
  const int64_t n = dx.numel();
  if (n == 0) return dx;
  MD_LAUNCH(upsample_backward_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, image4(dout),
            s[1], s[2] / f, s[3] / f, f, dx.data(), n);
  return dx;
}

}  // namespace mindiff
