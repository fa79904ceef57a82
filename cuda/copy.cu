// fill_, copy_ and += on CUDA tensors (declared in tensor/device_backend.h): one thread per element, in a grid-stride
// loop. Element i (row-major over dst's shape) sits at offset_of(view, i) in each operand, so
// one kernel serves contiguous tensors, transposed views, slices and broadcast (stride 0) sources.
#include "tensor/device_backend.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::offset_of;
using cuda::Strided4;

__global__ void fill_kernel(float* dst, Strided4 d, int64_t n, float value) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) dst[offset_of(d, i)] = value;
}

// kAccumulate: dst += src instead of dst = src.
template <bool kAccumulate>
__global__ void copy_kernel(float* dst, Strided4 d, const float* src, Strided4 s, int64_t n) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) {
    const float v = src[offset_of(s, i)];
    if (kAccumulate)
      dst[offset_of(d, i)] += v;
    else
      dst[offset_of(d, i)] = v;
  }
}

}  // namespace

void fill_cuda(const Tensor& dst, float value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  MD_LAUNCH(fill_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, dst.data(),
            cuda::strided4(dst), n, value);
}

void copy_cuda(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
    cuda::copy_on_device(dst.data(), src.data(), static_cast<size_t>(n) * sizeof(float));
    return;
  }
  MD_LAUNCH(copy_kernel<false>, cuda::blocks_for(n), cuda::kBlockThreads, 0, dst.data(),
            cuda::strided4(dst), src.data(), cuda::strided4(src, dst.shape()), n);
}

void add_into_cuda(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  MD_LAUNCH(copy_kernel<true>, cuda::blocks_for(n), cuda::kBlockThreads, 0, dst.data(),
            cuda::strided4(dst), src.data(), cuda::strided4(src, dst.shape()), n);
}

}  // namespace mindiff
