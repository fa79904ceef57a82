// dropout's mask on the GPU (see dropout.h): the uniforms come from rand() on the device (the
// CPU's numbers, cuda/random.cu), so the same generator state drops the same elements on both
// devices; this kernel turns them into the scaled keep mask.
#include "cuda/dropout.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

__global__ void dropout_mask_kernel(float* u, int64_t n, float p, float scale) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) u[i] = u[i] > p ? scale : 0.0f;
}

}  // namespace

void dropout_mask_cuda(const Tensor& u, float p, float scale) {
  const int64_t n = u.numel();
  if (n == 0) return;
  MD_LAUNCH(dropout_mask_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, u.data(), n, p, scale);
}

}  // namespace mindiff
