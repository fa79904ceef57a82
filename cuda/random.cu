// randn / rand on the CUDA device. The Philox generator is counter-based: element i of a draw
// is a pure function of (seed, first block, i), written once in tensor/philox.h for host and
// device, so each thread computes its elements independently and the result is the CPU's, bit
// for bit for uniforms. Normals go through logf and cosf, whose last bit may differ between the
// CPU's libm and the GPU's (CUDA documents 1-2 ulp for these); under the emulator the CPU's
// libm is used and they match exactly.
#include "tensor/device_backend.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"
#include "tensor/philox.h"

namespace mindiff {

namespace {

template <bool kNormal>
__global__ void philox_kernel(float* out, int64_t n, uint64_t seed, uint64_t first) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) {
    const uint64_t k = static_cast<uint64_t>(i);
    out[i] = kNormal ? philox_normal_at(seed, first, k) : philox_uniform_at(seed, first, k);
  }
}

}  // namespace

void random_fill_cuda(const Tensor& dst, uint64_t seed, uint64_t first, bool normal) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  MD_CHECK(dst.is_contiguous(), "random_fill_cuda: destination must be contiguous");
  if (normal)
    MD_LAUNCH(philox_kernel<true>, cuda::blocks_for(n), cuda::kBlockThreads, 0, dst.data(), n, seed, first);
  else
    MD_LAUNCH(philox_kernel<false>, cuda::blocks_for(n), cuda::kBlockThreads, 0, dst.data(), n, seed, first);
}

}  // namespace mindiff
