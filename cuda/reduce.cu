// Reductions over any set of axes (see reduce.h), forward kernels for sum, mean, max and var.
//
// Geometry, as on the CPU: output element o combines the N input elements that differ from it
// only along the reduced axes. Two rank-4 views describe x:
//   kept     extents of the output with keepdim (1 on reduced axes), x's strides:
//            offset_of(kept, o) is where output o's elements start;
//   reduced  the reduced extents right-aligned (innermost last) with x's strides along them:
//            offset_of(reduced, j) steps to the j-th element of o's set, in row-major order.
//
// Two kernels, chosen by N and by where the outputs lie:
//   v1 thread per output   each thread sums its N elements in order. For N <= 32 (the batch axis
//                          of a bias gradient): no idle lanes. Also for up to 1024 elements when
//                          the outputs are many (at least 8192) and adjacent in memory (the
//                          innermost kept axis has stride 1): then the lanes of a warp read 32
//                          neighbouring floats at every step, one coalesced load. The sum over
//                          the images of the convolution's per-image weight gradients is such a
//                          case (36864 or more outputs of N = B, 64 at batch 64), where a block
//                          per output would run 64 of its threads on loads 147 KB apart.
//   v2 block per output    otherwise: the block's threads take every blockDim-th element, then
//                          combine through block_all_reduce (warp shuffles, then shared memory).
// Sums accumulate in double, as the CPU's do (reductions are memory-bound: the cost is small),
// so the results agree with the CPU's to float rounding. var is two passes over the elements:
// the mean first, then the squared deviations, avoiding the cancellation of E[x^2] - E[x]^2.
#include "cuda/reduce.h"

#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::offset_of;
using cuda::Strided4;

struct ReduceArgs {
  const float* x;
  Strided4 kept, reduced;
  int64_t n_out, count;  // outputs, and N elements per output
  double dof;            // var's divisor
  float* out;
};

// The finishing step of each kind from the sum (or max) of the N elements.
template <ReduceKind kKind>
__device__ __forceinline__ float finish(double acc, const ReduceArgs& a) {
  if (kKind == ReduceKind::Mean) return static_cast<float>(acc / static_cast<double>(a.count));
  if (kKind == ReduceKind::Var) return static_cast<float>(acc / a.dof);
  return static_cast<float>(acc);
}

// v1: thread per output.
template <ReduceKind kKind>
__global__ void reduce_thread_kernel(ReduceArgs a) {
  for (int64_t o = cuda::first_index(); o < a.n_out; o += cuda::grid_stride()) {
    const float* p = a.x + offset_of(a.kept, o);
    if (kKind == ReduceKind::Max) {
      float m = -INFINITY;
      for (int64_t j = 0; j < a.count; ++j) m = cuda::MaxOp()(m, p[offset_of(a.reduced, j)]);
      a.out[o] = m;
      continue;
    }
    double s = 0.0;
    for (int64_t j = 0; j < a.count; ++j) s += p[offset_of(a.reduced, j)];
    if (kKind == ReduceKind::Var) {
      const double mean = s / static_cast<double>(a.count);
      s = 0.0;
      for (int64_t j = 0; j < a.count; ++j) {
        const double d = p[offset_of(a.reduced, j)] - mean;
        s += d * d;
      }
    }
    a.out[o] = finish<kKind>(s, a);
  }
}

// v2: block per output (blocks loop over outputs when there are more than the grid).
template <ReduceKind kKind>
__global__ void reduce_block_kernel(ReduceArgs a) {
  for (int64_t o = blockIdx.x; o < a.n_out; o += gridDim.x) {
    const float* p = a.x + offset_of(a.kept, o);
    if (kKind == ReduceKind::Max) {
      float m = -INFINITY;
      for (int64_t j = threadIdx.x; j < a.count; j += blockDim.x)
        m = cuda::MaxOp()(m, p[offset_of(a.reduced, j)]);
      m = cuda::block_all_reduce(m, cuda::MaxOp(), -INFINITY);
      if (threadIdx.x == 0) a.out[o] = m;
      continue;
    }
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < a.count; j += blockDim.x) s += p[offset_of(a.reduced, j)];
    s = cuda::block_all_reduce(s, cuda::SumOp<double>(), 0.0);
    if (kKind == ReduceKind::Var) {  // second pass: every thread now knows the mean
      const double mean = s / static_cast<double>(a.count);
      s = 0.0;
      for (int64_t j = threadIdx.x; j < a.count; j += blockDim.x) {
        const double d = p[offset_of(a.reduced, j)] - mean;
        s += d * d;
      }
      s = cuda::block_all_reduce(s, cuda::SumOp<double>(), 0.0);
    }
    if (threadIdx.x == 0) a.out[o] = finish<kKind>(s, a);
  }
}

__global__ void max_mask_kernel(const float* x, Strided4 sx, const float* y, Strided4 sy,
                                float* out, int64_t n) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) {
    const float v = x[offset_of(sx, i)], m = y[offset_of(sy, i)];
    out[i] = (v == m || (v != v && m != m)) ? 1.0f : 0.0f;
  }
}

// v1 or v2, as the header says.
bool thread_per_output(const ReduceArgs& a) {
  constexpr int64_t kThreadPerOutputUpTo = 32;        // N at or below which v1 is used
  constexpr int64_t kAdjacentUpTo = 1024;             // ... and with adjacent outputs, up to this N
  constexpr int64_t kAdjacentOutputsFrom = 8192;      // ... when there are this many outputs
  if (a.count <= kThreadPerOutputUpTo) return true;
  int inner = 3;  // the innermost kept axis of more than one element
  while (inner > 0 && a.kept.n[inner] == 1) --inner;
  const bool adjacent = a.kept.n[inner] > 1 && a.kept.st[inner] == 1;
  return adjacent && a.count <= kAdjacentUpTo && a.n_out >= kAdjacentOutputsFrom;
}

template <ReduceKind kKind>
void launch_reduce(const ReduceArgs& a) {
  if (thread_per_output(a)) {
    MD_LAUNCH(reduce_thread_kernel<kKind>, cuda::blocks_for(a.n_out), cuda::kBlockThreads, 0, a);
  } else {
    const unsigned blocks = static_cast<unsigned>(a.n_out < 65535 ? a.n_out : 65535);
    MD_LAUNCH(reduce_block_kernel<kKind>, blocks, cuda::reduce_threads(a.count), 0, a);
  }
}

}  // namespace

Tensor reduce_cuda(ReduceKind kind, const Tensor& x, unsigned mask, const Shape& out_shape,
                   double dof) {
  Tensor out = empty(out_shape, Device::CUDA);
  ReduceArgs a{x.data(), cuda::strided4(x), {}, out.numel(), 1, dof, out.data()};
  // kept: x's strides with the reduced extents set to 1; reduced: those extents right-aligned.
  a.reduced = Strided4{{1, 1, 1, 1}, {0, 0, 0, 0}};
  const int pad = 4 - x.ndim();
  int r = 4;
  for (int ax = x.ndim() - 1; ax >= 0; --ax) {
    if (!(mask & (1u << ax))) continue;
    --r;
    a.reduced.n[r] = x.shape()[ax];
    a.reduced.st[r] = x.strides()[ax];
    a.kept.n[pad + ax] = 1;
    a.count *= x.shape()[ax];
  }
  if (a.n_out > 0) {
    switch (kind) {
      case ReduceKind::Sum: launch_reduce<ReduceKind::Sum>(a); break;
      case ReduceKind::Mean: launch_reduce<ReduceKind::Mean>(a); break;
      case ReduceKind::Max: launch_reduce<ReduceKind::Max>(a); break;
      case ReduceKind::Var: launch_reduce<ReduceKind::Var>(a); break;
    }
  }
  return out;
}

Tensor max_mask_cuda(const Tensor& x, const Tensor& y_keep) {
  Tensor out = empty(x.shape(), Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) return out;
  MD_LAUNCH(max_mask_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, x.data(),
            cuda::strided4(x), y_keep.data(), cuda::strided4(y_keep, x.shape()), out.data(), n);
  return out;
}

}  // namespace mindiff
