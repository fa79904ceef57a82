// Optimizer updates on the GPU (see optim.h): one thread per parameter element, applying the
// same inline function as the CPU loop (tensor/ops/optim_math.h). sqrtf and division are
// correctly rounded on both, so a step gives the CPU's numbers up to where a compiler fused a
// multiply-add into one rounding (g++ and nvcc each choose their own). The constants of the
// step (learning rate, bias corrections) are computed once on the host and passed by value.
#include "cuda/optim.h"

#include <cstring>
#include <vector>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, SgdConsts c) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride()) {
    float unused = 0.0f;  // stands in for the momentum buffer when momentum is 0 (never read)
    sgd_update_f(p[k], g[k], buf ? buf[k] : unused, c);
  }
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamConsts c) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride())
    adam_update_f(p[k], g[k], m[k], v[k], c);
}

__global__ void ema_kernel(float* shadow, const float* p, int64_t n, float one_minus_decay) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride())
    ema_update_f(shadow[k], p[k], one_minus_decay);
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride()) x[k] *= s;
}

// Stage 1 of the deterministic sum: block b sums its grid-stride share of x_k^2.
__global__ void sum_squares_kernel(const float* x, int64_t n, double* partial) {
  double s = 0.0;
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride())
    s += static_cast<double>(x[k]) * x[k];
  s = cuda::block_all_reduce(s, cuda::SumOp<double>(), 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

}  // namespace

void sgd_update_cuda(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(sgd_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, p.data(), g.data(),
            momentum.defined() ? momentum.data() : nullptr, n, c);
}

void adam_update_cuda(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamConsts& c) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(adam_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, p.data(), g.data(),
            exp_avg.data(), exp_avg_sq.data(), n, c);
}

void ema_update_cuda(const Tensor& shadow, const Tensor& p, float one_minus_decay) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(ema_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, shadow.data(), p.data(), n,
            one_minus_decay);
}

void scale_cuda(const Tensor& x, float s) {
  const int64_t n = x.numel();
  if (n == 0) return;
  MD_LAUNCH(scale_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, x.data(), n, s);
}

double sum_squares_cuda(const Tensor& x) {
  const int64_t n = x.numel();
  if (n == 0) return 0.0;
  constexpr unsigned kMaxBlocks = 256;  // partials, added on the host in block order
  const unsigned blocks = cuda::blocks_for(n) < kMaxBlocks ? cuda::blocks_for(n) : kMaxBlocks;
  Tensor partial = empty({2 * static_cast<int64_t>(blocks)}, Device::CUDA);  // doubles
  MD_LAUNCH(sum_squares_kernel, blocks, cuda::kBlockThreads, 0, x.data(), n,
            reinterpret_cast<double*>(partial.data()));
  const std::vector<float> raw = partial.to_vector();
  double total = 0.0;
  for (unsigned b = 0; b < blocks; ++b) {
    double v;
    std::memcpy(&v, raw.data() + 2 * b, sizeof(double));
    total += v;
  }
  return total;
}

}  // namespace mindiff
