// upsample_nearest2d (formula and shapes in upsample.h). Both kernels read their input through
// its strides, so non-contiguous views need no copy, and write a fresh contiguous output, one
// output row per work item (each element is written by exactly one thread).
#include "tensor/ops/upsample.h"

#include "cuda/upsample.h"
#include "tensor/ops/common.h"

namespace mindiff {

namespace {

const OpInfo kUpsampleNearest2d("upsample_nearest2d");

constexpr int64_t kSerialBelow = 32768;  // elements; smaller images run on one thread

// out [B, C, H*f, W*f] from x [B, C, H, W] (any strides).
Tensor upsample_forward_cpu(const Tensor& x, int64_t f) {
  const Shape& s = x.shape();
  const int64_t B = s[0], C = s[1], H = s[2], W = s[3], Ho = H * f, Wo = W * f;
  const Shape& st = x.strides();
  Tensor out = empty({B, C, Ho, Wo});
  const float* src = x.data();
  float* dst = out.data();
  const int64_t rows = B * C * Ho;  // output row r = ((b * C) + c) * Ho + i
#pragma omp parallel for schedule(static) if (rows * Wo >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % Ho, c = (r / Ho) % C, b = r / (Ho * C);
    const float* in_row = src + b * st[0] + c * st[1] + (i / f) * st[2];
    float* out_row = dst + r * Wo;
    for (int64_t q = 0; q < W; ++q) {
      const float v = in_row[q * st[3]];
      for (int64_t dj = 0; dj < f; ++dj) out_row[q * f + dj] = v;
    }
  }
  return out;
}

// dx [B, C, H, W] from dout [B, C, H*f, W*f] (any strides): the sum over each f x f block.
Tensor upsample_backward_cpu(const Tensor& dout, int64_t f) {
  const Shape& s = dout.shape();
  const int64_t B = s[0], C = s[1], H = s[2] / f, W = s[3] / f;
  const Shape& st = dout.strides();
  Tensor dx = empty({B, C, H, W});
  const float* g = dout.data();
  float* d = dx.data();
  const int64_t rows = B * C * H;  // dx row r = ((b * C) + c) * H + p
#pragma omp parallel for schedule(static) if (rows * W * f * f >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r % H, c = (r / H) % C, b = r / (H * C);
    const float* block_rows = g + b * st[0] + c * st[1] + p * f * st[2];
    for (int64_t q = 0; q < W; ++q) {
      float acc = 0.0f;
      for (int64_t di = 0; di < f; ++di)
        for (int64_t dj = 0; dj < f; ++dj) acc += block_rows[di * st[2] + (q * f + dj) * st[3]];
      d[r * W + q] = acc;
    }
  }
  return dx;
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, int factor) {
  const Device device = common_device("upsample_nearest2d", {x});
  MD_CHECK(x.ndim() == 4, "upsample_nearest2d: expects x of shape [B, C, H, W], got ",
           x.shape().str());
  MD_CHECK(factor >= 1, "upsample_nearest2d: factor must be at least 1, got ", factor,
           " (x of shape ", x.shape().str(), ")");
  Tensor out = device == Device::CUDA ? upsample_nearest2d_cuda(x, factor)
                                      : upsample_forward_cpu(x, factor);
  if (needs_grad({x}))
    record(kUpsampleNearest2d, out, {x}, [factor](const Tensor& dout) {
      if (dout.device() == Device::CUDA)
        return std::vector<Tensor>{upsample_nearest2d_backward_cuda(dout, factor)};
      return std::vector<Tensor>{upsample_backward_cpu(dout, factor)};
    });
  return out;
}

}  // namespace mindiff
