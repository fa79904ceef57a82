// dropout (formula and shapes in dropout.h). The uniforms come from rand(x.shape(), gen), the
// library's one counter-based stream, and are turned in place into the scaled mask
// keep_i / (1 - p), which is all backward needs.
#include "tensor/ops/dropout.h"

#include "cuda/dropout.h"
#include "cuda/elementwise.h"
#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"

namespace mindiff {

namespace {

const OpInfo kDropout("dropout");

constexpr int64_t kSerialBelow = 32768;  // elements; smaller masks are built on one thread

}  // namespace

Tensor dropout(const Tensor& x, float p, Generator& gen, bool training) {
  const Device device = common_device("dropout", {x});
  MD_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), got ", p, " (x of shape ",
           x.shape().str(), ")");
  if (!training || p == 0.0f) return x;

  // mask_i = 1 / (1 - p) where u_i > p, else 0; contiguous, in x's logical row-major order.
  Tensor mask = rand(x.shape(), gen, device);
  const float scale = 1.0f / (1.0f - p);
  if (device == Device::CUDA) {
    dropout_mask_cuda(mask, p, scale);
  } else {
    float* m = mask.data();
    const int64_t n = mask.numel();
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
    for (int64_t i = 0; i < n; ++i) m[i] = m[i] > p ? scale : 0.0f;
  }

  // Both kernels walk x through its strides, so element i of x meets mask element i.
  auto times = [](float a, float k) { return a * k; };
  auto apply = [times](const Tensor& t, const Tensor& mask) {
    return t.device() == Device::CUDA ? binary_cuda(BinaryKind::Mul, t, mask, t.shape())
                                      : map_binary_cpu(t, mask, t.shape(), times);
  };
  Tensor y = apply(x, mask);
  if (needs_grad({x}))
    record(kDropout, y, {x}, [mask, apply](const Tensor& dout) {
      return std::vector<Tensor>{apply(dout, mask)};
    });
  return y;
}

}  // namespace mindiff
