// Losses on the GPU (see loss.h).
//
// mse: a two-stage sum. Stage 1: each of up to 256 blocks sums the squared differences of its
// grid-stride share of the elements (in double) and writes one partial; stage 2: one block adds
// the partials and divides by N. The grid size is fixed by N alone, so the result is
// deterministic (no atomics, whose order would vary from run to run).
// cross_entropy: block per row computes lse_b = m + log sum_k exp(x_k - m) and the row's loss
// lse_b - x_{t_b}; one block then averages the rows. Backward recomputes lse_b per row (cheaper
// than storing doubles in a float tensor) and writes dx = dout (softmax - onehot) / B.
#include "cuda/loss.h"

#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::SumOp;

constexpr int kPartials = 256;  // stage-1 blocks at most
constexpr int kThreads = 256;

__global__ void squared_diff_partials_kernel(const float* a, const float* b, int64_t n,
                                             double* partial) {
  double s = 0.0;
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  s = cuda::block_all_reduce(s, SumOp<double>(), 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// out[0] = (sum of the `count` partials) / divisor.
__global__ void finish_mean_kernel(const double* partial, int count, double divisor, float* out) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = cuda::block_all_reduce(s, SumOp<double>(), 0.0);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s / divisor);
}

__global__ void mse_backward_kernel(const float* p, const float* t, const float* dout, int64_t n,
                                    float k, float* dx) {
  const float s = k * (2.0f * dout[0] / static_cast<float>(n));
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) dx[i] = s * (p[i] - t[i]);
}

struct Logits {
  const float* p;
  int64_t rs, cs;  // row and column strides
  int64_t rows, cols;
};

// lse of row b, computed by the whole block (every thread gets it).
__device__ double row_lse(const Logits& x, int64_t b) {
  const float* row = x.p + b * x.rs;
  float m = -INFINITY;
  for (int64_t k = threadIdx.x; k < x.cols; k += blockDim.x) m = cuda::MaxOp()(m, row[k * x.cs]);
  m = cuda::block_all_reduce(m, cuda::MaxOp(), -INFINITY);
  double s = 0.0;
  for (int64_t k = threadIdx.x; k < x.cols; k += blockDim.x) s += expf(row[k * x.cs] - m);
  s = cuda::block_all_reduce(s, SumOp<double>(), 0.0);
  return m + log(s);
}

__global__ void cross_entropy_rows_kernel(Logits x, const float* targets, double* row_loss) {
  for (int64_t b = blockIdx.x; b < x.rows; b += gridDim.x) {
    const double lse = row_lse(x, b);
    const int64_t t = static_cast<int64_t>(targets[b]);
    if (threadIdx.x == 0) row_loss[b] = lse - x.p[b * x.rs + t * x.cs];
  }
}

__global__ void cross_entropy_backward_kernel(Logits x, const float* targets, const float* dout,
                                              float* dx) {
  const double g = static_cast<double>(dout[0]) / static_cast<double>(x.rows);
  for (int64_t b = blockIdx.x; b < x.rows; b += gridDim.x) {
    const double lse = row_lse(x, b);
    const int64_t t = static_cast<int64_t>(targets[b]);
    for (int64_t k = threadIdx.x; k < x.cols; k += blockDim.x) {
      const double p = exp(static_cast<double>(x.p[b * x.rs + k * x.cs]) - lse);
      dx[b * x.cols + k] = static_cast<float>(g * (p - (k == t ? 1.0 : 0.0)));
    }
  }
}

// Scratch doubles on the device, as a float tensor of twice the length (freed with it).
Tensor double_scratch(int64_t n) { return empty({2 * n}, Device::CUDA); }
double* as_doubles(const Tensor& t) { return reinterpret_cast<double*>(t.data()); }

unsigned capped(int64_t n) { return static_cast<unsigned>(n < 65535 ? (n < 1 ? 1 : n) : 65535); }

}  // namespace

Tensor mse_loss_cuda(const Tensor& pred, const Tensor& target) {
  const int64_t n = pred.numel();
  const unsigned blocks = cuda::blocks_for(n, kThreads) < kPartials ? cuda::blocks_for(n, kThreads)
                                                                    : kPartials;
  Tensor partial = double_scratch(blocks);
  Tensor out = empty(Shape{}, Device::CUDA);
  MD_LAUNCH(squared_diff_partials_kernel, blocks, kThreads, 0, pred.data(), target.data(), n,
            as_doubles(partial));
  MD_LAUNCH(finish_mean_kernel, 1, kThreads, 0, as_doubles(partial), static_cast<int>(blocks),
            static_cast<double>(n), out.data());
  return out;
}

Tensor mse_loss_backward_cuda(const Tensor& pred, const Tensor& target, const Tensor& dout, float k) {
  Tensor dx = empty(pred.shape(), Device::CUDA);
  const int64_t n = pred.numel();
  MD_LAUNCH(mse_backward_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, pred.data(),
            target.data(), dout.data(), n, k, dx.data());
  return dx;
}

Tensor cross_entropy_cuda(const Tensor& logits, const Tensor& targets) {
  const Logits x{logits.data(), logits.strides()[0], logits.strides()[1], logits.shape()[0],
                 logits.shape()[1]};
  Tensor row_loss = double_scratch(x.rows);
  Tensor out = empty(Shape{}, Device::CUDA);
  MD_LAUNCH(cross_entropy_rows_kernel, capped(x.rows), cuda::reduce_threads(x.cols), 0, x,
            targets.data(), as_doubles(row_loss));
  MD_LAUNCH(finish_mean_kernel, 1, kThreads, 0, as_doubles(row_loss), static_cast<int>(x.rows),
            static_cast<double>(x.rows), out.data());
  return out;
}

Tensor cross_entropy_backward_cuda(const Tensor& logits, const Tensor& targets, const Tensor& dout) {
  const Logits x{logits.data(), logits.strides()[0], logits.strides()[1], logits.shape()[0],
                 logits.shape()[1]};
  Tensor dx = empty(logits.shape(), Device::CUDA);
  MD_LAUNCH(cross_entropy_backward_kernel, capped(x.rows), cuda::reduce_threads(x.cols), 0, x,
            targets.data(), dout.data(), dx.data());
  return dx;
}

}  // namespace mindiff
