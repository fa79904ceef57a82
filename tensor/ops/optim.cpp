// In-place optimizer and EMA updates (see optim.h): the CPU loops, and the dispatch to the CUDA
// kernels of cuda/optim.cu.
#include "tensor/ops/optim.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "cuda/optim.h"

namespace mindiff {

namespace {

// Below this many elements a tensor is updated on one thread (thread start-up costs more).
constexpr int64_t kParallelMin = 1 << 15;
// Elements per partial sum in add_sum_squares: the partial sums are added in chunk order, so the
// result is the same for every thread count.
constexpr int64_t kNormChunk = 1 << 14;

// total + sum_k x_k^2 in double, the same for every thread count: the partial sums of fixed
// chunks, each added onto total in chunk order (so a running total over several tensors sees one
// chunk at a time). A CPU tensor.
double add_sum_squares(double total, const Tensor& x) {
  const float* xp = x.data();
  const int64_t n = x.numel();
  const int64_t chunks = (n + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0.0;
    const int64_t end = std::min(n, (c + 1) * kNormChunk);
    for (int64_t k = c * kNormChunk; k < end; ++k) s += static_cast<double>(xp[k]) * xp[k];
    partial[static_cast<size_t>(c)] = s;
  }
  for (double s : partial) total += s;
  return total;
}

// x *= s in place. A CPU tensor.
void scale_(const Tensor& x, float s) {
  float* xp = x.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t k = 0; k < n; ++k) xp[k] *= s;
}

}  // namespace

void sgd_update_(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c) {
  if (p.device() == Device::CUDA) return sgd_update_cuda(p, g, momentum, c);
  float* pp = p.data();
  const float* gp = g.data();
  const int64_t n = p.numel();
  if (momentum.defined()) {
    float* buf = momentum.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t k = 0; k < n; ++k) sgd_update_f(pp[k], gp[k], buf[k], c);
  } else {
    float scratch = 0.0f;  // stands in for the momentum buffer when momentum is 0 (never read)
#pragma omp parallel for schedule(static) firstprivate(scratch) if (n >= kParallelMin)
    for (int64_t k = 0; k < n; ++k) sgd_update_f(pp[k], gp[k], scratch, c);
  }
}

void adam_update_(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                  const Tensor& exp_avg_sq, const AdamConsts& c) {
  if (p.device() == Device::CUDA) return adam_update_cuda(p, g, exp_avg, exp_avg_sq, c);
  float* pp = p.data();
  const float* gp = g.data();
  float* m = exp_avg.data();
  float* v = exp_avg_sq.data();
  const int64_t n = p.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t k = 0; k < n; ++k) adam_update_f(pp[k], gp[k], m[k], v[k], c);
}

void ema_update_(const Tensor& shadow, const Tensor& p, float one_minus_decay) {
  if (p.device() == Device::CUDA) return ema_update_cuda(shadow, p, one_minus_decay);
  float* s = shadow.data();
  const float* pp = p.data();
  const int64_t n = p.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t k = 0; k < n; ++k) ema_update_f(s[k], pp[k], one_minus_decay);
}

namespace {

// The lists of a multi-tensor update: one length, one device (CUDA when the first is), and each
// tensor as long as its parameter. Returns whether they are on CUDA.
bool check_lists(const char* op, const std::vector<Tensor>& p,
                 std::initializer_list<const std::vector<Tensor>*> others) {
  const bool on_cuda = !p.empty() && p[0].device() == Device::CUDA;
  for (const std::vector<Tensor>* list : others) {
    MD_CHECK(list->size() == p.size(), op, ": lists of ", list->size(), " and ", p.size(),
             " tensors");
    for (size_t i = 0; i < p.size(); ++i)
      MD_CHECK((*list)[i].numel() == p[i].numel() && (*list)[i].device() == p[i].device() &&
                   p[i].device() == p[0].device(),
               op, ": tensor ", i, " of a list does not match its parameter ", p[i].shape().str());
  }
  return on_cuda;
}

}  // namespace

void adam_update_all_(MultiTensorTable& table, const std::vector<Tensor>& p,
                      const std::vector<Tensor>& g, const std::vector<Tensor>& exp_avg,
                      const std::vector<Tensor>& exp_avg_sq, const AdamConsts& c) {
  if (check_lists("adam_update_all_", p, {&g, &exp_avg, &exp_avg_sq}))
    return adam_update_all_cuda(table, p, g, exp_avg, exp_avg_sq, c);
  for (size_t i = 0; i < p.size(); ++i) adam_update_(p[i], g[i], exp_avg[i], exp_avg_sq[i], c);
}

void sgd_update_all_(MultiTensorTable& table, const std::vector<Tensor>& p,
                     const std::vector<Tensor>& g, const std::vector<Tensor>& momentum,
                     const SgdConsts& c) {
  const bool on_cuda = momentum.empty() ? check_lists("sgd_update_all_", p, {&g})
                                        : check_lists("sgd_update_all_", p, {&g, &momentum});
  if (on_cuda) return sgd_update_all_cuda(table, p, g, momentum, c);
  for (size_t i = 0; i < p.size(); ++i)
    sgd_update_(p[i], g[i], momentum.empty() ? Tensor() : momentum[i], c);
}

void ema_update_all_(MultiTensorTable& table, const std::vector<Tensor>& shadow,
                     const std::vector<Tensor>& p, float one_minus_decay) {
  if (check_lists("ema_update_all_", p, {&shadow}))
    return ema_update_all_cuda(table, shadow, p, one_minus_decay);
  for (size_t i = 0; i < p.size(); ++i) ema_update_(shadow[i], p[i], one_minus_decay);
}

Tensor clip_global_norm_(const std::vector<Tensor>& xs, float max_norm) {
  MD_CHECK(std::isfinite(max_norm) && max_norm > 0.0f, "clip_global_norm_: max_norm must be > 0, got ",
           max_norm);
  for (const Tensor& x : xs)
    MD_CHECK(x.is_contiguous() && x.device() == xs[0].device(), "clip_global_norm_: tensors must "
             "be contiguous and on one device; got ", x.shape().str(), " on ", device_name(x.device()));
  if (!xs.empty() && xs[0].device() == Device::CUDA) return clip_global_norm_cuda_(xs, max_norm);
  double sum_sq = 0.0;
  for (const Tensor& x : xs) sum_sq = add_sum_squares(sum_sq, x);
  const double norm = std::sqrt(sum_sq);
  const float factor = clip_factor(norm, max_norm);
  if (factor != 1.0f)
    for (const Tensor& x : xs) scale_(x, factor);
  return full(Shape({}), static_cast<float>(norm));
}

}  // namespace mindiff
