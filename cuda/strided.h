// Indexing helpers for kernels (included by .cu files only): tensors as rank-4 strided views, and
// launch sizes.
#pragma once
#include <cstdint>

#include "cuda/kernel.h"
#include "tensor/tensor.h"

namespace mindiff::cuda {

// A tensor as a kernel sees it: extents padded on the left with 1 to rank 4, strides in
// elements, 0 along axes it is broadcast along. Passed to kernels by value (64 bytes).
struct Strided4 {
  int64_t n[4];
  int64_t st[4];
};

// A [B, C, H, W] image as the pooling and upsampling kernels read it: data and the four strides.
struct Image4 {
  const float* p;
  int64_t st[4];  // strides of [B, C, H, W]
};

inline Image4 image4(const Tensor& t) {
  return Image4{t.data(), {t.strides()[0], t.strides()[1], t.strides()[2], t.strides()[3]}};
}

// Offset from data() of the element with row-major linear index i over the extents n:
// peel the index digits off from the innermost axis, i = ((i0 n1 + i1) n2 + i2) n3 + i3.
MD_HOST_DEVICE int64_t offset_of(const Strided4& v, int64_t i) {
  int64_t off = 0;
  for (int a = 3; a >= 0; --a) {
    const int64_t q = i / v.n[a];
    off += (i - q * v.n[a]) * v.st[a];
    i = q;
  }
  return off;
}

// `t` read as if broadcast to `shape` (which t's shape must broadcast to).
inline Strided4 strided4(const Tensor& t, const Shape& shape) {
  Strided4 v{{1, 1, 1, 1}, {0, 0, 0, 0}};
  const int pad = 4 - shape.ndim(), lead = shape.ndim() - t.ndim();
  for (int i = 0; i < shape.ndim(); ++i) {
    v.n[pad + i] = shape[i];
    const int j = i - lead;  // t's axis aligned with output axis i
    v.st[pad + i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
  return v;
}
inline Strided4 strided4(const Tensor& t) { return strided4(t, t.shape()); }

// Threads per block of the simple one-thread-per-element kernels: 8 warps, a common default
// that keeps several blocks resident per multiprocessor.
constexpr int kBlockThreads = 256;

// Blocks for n elements at `threads` per block, capped: kernels loop over the elements with a
// grid-sized stride, so a very large tensor needs no more blocks than the GPU can keep busy.
inline unsigned blocks_for(int64_t n, int threads = kBlockThreads) {
  const int64_t kMaxBlocks = 65535;
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

// The calling thread's first element and the stride of a grid-stride loop:
//   for (int64_t i = first_index(); i < n; i += grid_stride()) ...
__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

}  // namespace mindiff::cuda
