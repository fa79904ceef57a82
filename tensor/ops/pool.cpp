// avg_pool2d (formula and shapes in pool.h). Both kernels read through the input's strides and
// write a fresh contiguous output, one output row per work item. The backward pass gathers
// (each dx element sums the windows that contain it) rather than scattering window by window, so
// every element is written by one thread and the result does not depend on the thread count.
#include "tensor/ops/pool.h"

#include "cuda/pool.h"
#include "tensor/ops/common.h"

namespace mindiff {

namespace {

const OpInfo kAvgPool2d("avg_pool2d");

constexpr int64_t kSerialBelow = 32768;  // multiply-adds; smaller problems run on one thread

// out [B, C, Ho, Wo] from x [B, C, H, W] (any strides).
Tensor avg_pool_forward_cpu(const Tensor& x, int64_t k, int64_t s) {
  const Shape& sh = x.shape();
  const int64_t B = sh[0], C = sh[1], H = sh[2], W = sh[3];
  const int64_t Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
  const Shape& st = x.strides();
  Tensor out = empty({B, C, Ho, Wo});
  const float* src = x.data();
  float* dst = out.data();
  const float scale = 1.0f / static_cast<float>(k * k);
  const int64_t rows = B * C * Ho;  // output row r = ((b * C) + c) * Ho + i
#pragma omp parallel for schedule(static) if (rows * Wo * k * k >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % Ho, c = (r / Ho) % C, b = r / (Ho * C);
    const float* window_rows = src + b * st[0] + c * st[1] + i * s * st[2];
    for (int64_t j = 0; j < Wo; ++j) {
      float acc = 0.0f;
      for (int64_t di = 0; di < k; ++di)
        for (int64_t dj = 0; dj < k; ++dj) acc += window_rows[di * st[2] + (j * s + dj) * st[3]];
      dst[r * Wo + j] = acc * scale;
    }
  }
  return out;
}

// Windows along one axis that contain position p: i with i*s <= p <= i*s + k - 1 and
// 0 <= i < n_out, i.e. i from ceil((p - k + 1) / s) (at least 0) to min(floor(p / s), n_out - 1).
inline void windows_containing(int64_t p, int64_t k, int64_t s, int64_t n_out, int64_t& lo,
                               int64_t& hi) {
  lo = p - k + 1 <= 0 ? 0 : (p - k + s) / s;
  hi = p / s < n_out - 1 ? p / s : n_out - 1;
}

// dx [B, C, H, W] from dout [B, C, Ho, Wo] (any strides).
Tensor avg_pool_backward_cpu(const Tensor& dout, const Shape& in_shape, int64_t k, int64_t s) {
  const int64_t B = in_shape[0], C = in_shape[1], H = in_shape[2], W = in_shape[3];
  const int64_t Ho = dout.shape()[2], Wo = dout.shape()[3];
  const Shape& st = dout.strides();
  Tensor dx = empty(in_shape);
  const float* g = dout.data();
  float* d = dx.data();
  const float scale = 1.0f / static_cast<float>(k * k);
  const int64_t rows = B * C * H;  // dx row r = ((b * C) + c) * H + p
#pragma omp parallel for schedule(static) if (rows * W * k * k >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r % H, c = (r / H) % C, b = r / (H * C);
    const float* plane = g + b * st[0] + c * st[1];
    int64_t i_lo, i_hi;
    windows_containing(p, k, s, Ho, i_lo, i_hi);
    for (int64_t q = 0; q < W; ++q) {
      int64_t j_lo, j_hi;
      windows_containing(q, k, s, Wo, j_lo, j_hi);
      float acc = 0.0f;
      for (int64_t i = i_lo; i <= i_hi; ++i)
        for (int64_t j = j_lo; j <= j_hi; ++j) acc += plane[i * st[2] + j * st[3]];
      d[r * W + q] = acc * scale;
    }
  }
  return dx;
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, int kernel, int stride) {
  const Device device = common_device("avg_pool2d", {x});
  MD_CHECK(x.ndim() == 4, "avg_pool2d: expects x of shape [B, C, H, W], got ", x.shape().str());
  MD_CHECK(kernel >= 1, "avg_pool2d: kernel must be at least 1, got ", kernel);
  MD_CHECK(stride >= 0, "avg_pool2d: stride must be positive (or 0 for stride = kernel), got ",
           stride);
  const int64_t k = kernel, s = stride == 0 ? kernel : stride;
  MD_CHECK(k <= x.shape()[2] && k <= x.shape()[3], "avg_pool2d: kernel ", kernel,
           " is larger than the image of x ", x.shape().str());
  Tensor out = device == Device::CUDA ? avg_pool2d_cuda(x, k, s) : avg_pool_forward_cpu(x, k, s);
  if (needs_grad({x}))
    record(kAvgPool2d, out, {x}, [in = x.shape(), k, s](const Tensor& dout) {
      if (dout.device() == Device::CUDA)
        return std::vector<Tensor>{avg_pool2d_backward_cuda(dout, in, k, s)};
      return std::vector<Tensor>{avg_pool_backward_cpu(dout, in, k, s)};
    });
  return out;
}

}  // namespace mindiff
