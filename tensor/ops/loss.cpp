// Losses (formulas in loss.h). Both reduce to one scalar; the per-element or per-row terms are
// computed in parallel into fixed chunks or rows, and the partial results are added in index
// order in double, so the loss does not depend on the thread count.
#include "tensor/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "cuda/loss.h"
#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"

namespace mindiff {

namespace {

const OpInfo kMseLoss("mse_loss"), kCrossEntropy("cross_entropy");

constexpr int64_t kSerialBelow = 32768;  // elements; below this one thread is faster

// sum_i (a_i - b_i)^2 in double over two contiguous arrays of n floats. Chunk c covers
// [c * kChunk, (c + 1) * kChunk); chunk sums are added in order.
double sum_squared_diff(const float* a, const float* b, int64_t n) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    double s = 0.0;
    for (int64_t i = c * kChunk; i < end; ++i) {
      const double d = static_cast<double>(a[i]) - b[i];
      s += d * d;
    }
    partial[c] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  const Device device = common_device("mse_loss", {pred, target});
  MD_CHECK(pred.shape() == target.shape(), "mse_loss: pred ", pred.shape().str(), " and target ",
           target.shape().str(), " must have the same shape");
  const int64_t n = pred.numel();
  MD_CHECK(n > 0, "mse_loss: empty input ", pred.shape().str(), " (the mean of no elements)");
  // The kernel reads flat arrays: strided inputs are copied once (detached: a raw read).
  Tensor pc = pred.detach().contiguous(), tc = target.detach().contiguous();
  Tensor out = device == Device::CUDA
                   ? mse_loss_cuda(pc, tc)
                   : scalar_tensor(static_cast<float>(sum_squared_diff(pc.data(), tc.data(), n) /
                                                      static_cast<double>(n)));
  if (needs_grad({pred, target}))
    record(kMseLoss, out, {pred, target},
           [pc, tc, gp = pred.requires_grad(), gt = target.requires_grad()](const Tensor& dout) {
             if (dout.device() == Device::CUDA)
               return std::vector<Tensor>{gp ? mse_loss_backward_cuda(pc, tc, dout, 1.0f) : Tensor(),
                                          gt ? mse_loss_backward_cuda(pc, tc, dout, -1.0f) : Tensor()};
             // d/dpred (1/N) sum (p - t)^2 = 2 (p - t) / N; the target's is its negative.
             const float s = 2.0f * dout.item() / static_cast<float>(pc.numel());
             auto scaled_diff = [&](float k) {
               return map_binary_cpu(pc, tc, pc.shape(),
                                     [k](float p, float t) { return k * (p - t); });
             };
             return std::vector<Tensor>{gp ? scaled_diff(s) : Tensor(),
                                        gt ? scaled_diff(-s) : Tensor()};
           });
  return out;
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& targets) {
  const Device device = common_device("cross_entropy", {logits});
  MD_CHECK(logits.ndim() == 2, "cross_entropy: logits must be [B, K] (batch, classes), got ",
           logits.shape().str());
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  MD_CHECK(static_cast<int64_t>(targets.size()) == batch, "cross_entropy: logits ",
           logits.shape().str(), " hold a batch of ", batch, " but targets hold ", targets.size(),
           " class indices");
  MD_CHECK(batch > 0, "cross_entropy: empty batch, logits ", logits.shape().str());
  for (size_t b = 0; b < targets.size(); ++b)
    MD_CHECK(targets[b] >= 0 && targets[b] < classes, "cross_entropy: target ", targets[b],
             " at index ", b, " is out of range for K = ", classes, " classes (logits ",
             logits.shape().str(), ")");

  if (device == Device::CUDA) {
    // The class indices travel to the device as floats (exact for fewer than 2^24 classes).
    std::vector<float> t(targets.begin(), targets.end());
    const Tensor tg = from_data(t, {batch}).to(Device::CUDA);
    Tensor out = cross_entropy_cuda(logits, tg);
    if (needs_grad({logits}))
      record(kCrossEntropy, out, {logits}, [xd = logits.detach(), tg](const Tensor& dout) {
        return std::vector<Tensor>{cross_entropy_backward_cuda(xd, tg, dout)};
      });
    return out;
  }

  // Row b of the logits: element k at x + b * rs + k * cs (any strides).
  const float* x = logits.data();
  const int64_t rs = logits.strides()[0], cs = logits.strides()[1];
  auto lse = std::make_shared<std::vector<double>>(static_cast<size_t>(batch));
  std::vector<double> row_loss(static_cast<size_t>(batch));
#pragma omp parallel for schedule(static) if (batch > 1 && batch * classes >= kSerialBelow)
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = x + b * rs;
    float m = -INFINITY;
    for (int64_t k = 0; k < classes; ++k) {
      const float v = row[k * cs];
      m = (v > m || v != v) ? v : m;  // a NaN logit makes the loss NaN
    }
    double s = 0.0;  // >= 1: the maximal term is exp(0)
    for (int64_t k = 0; k < classes; ++k) s += std::exp(row[k * cs] - m);
    (*lse)[b] = m + std::log(s);
    row_loss[b] = (*lse)[b] - row[targets[b] * cs];
  }
  double total = 0.0;
  for (double l : row_loss) total += l;
  Tensor out = scalar_tensor(static_cast<float>(total / static_cast<double>(batch)));

  if (needs_grad({logits}))
    record(kCrossEntropy, out, {logits},
           [xd = logits.detach(), targets, lse](const Tensor& dout) {
             const int64_t nb = xd.shape()[0], nk = xd.shape()[1];
             const int64_t xr = xd.strides()[0], xc = xd.strides()[1];
             const double g = static_cast<double>(dout.item()) / static_cast<double>(nb);
             Tensor dx = empty(xd.shape());  // contiguous [B, K]
             const float* px = xd.data();
             float* pdx = dx.data();
#pragma omp parallel for schedule(static) if (nb > 1 && nb * nk >= kSerialBelow)
             for (int64_t b = 0; b < nb; ++b) {
               // softmax_{b,k} = exp(x_{b,k} - lse_b) in (0, 1]; minus the one-hot target.
               for (int64_t k = 0; k < nk; ++k) {
                 const double p = std::exp(static_cast<double>(px[b * xr + k * xc]) - (*lse)[b]);
                 pdx[b * nk + k] = static_cast<float>(g * (p - (k == targets[b] ? 1.0 : 0.0)));
               }
             }
             return std::vector<Tensor>{dx};
           });
  return out;
}

}  // namespace mindiff
