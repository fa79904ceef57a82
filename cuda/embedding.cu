// The sinusoidal embedding on the GPU (tensor/ops/embedding.h): one thread per (sample, frequency)
// pair, the CPU's double-precision math (tensor/ops/embedding_math.h), so a network's time
// embedding is made where its times are and never crosses to the host.
#include "cuda/embedding.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"
#include "tensor/ops/embedding_math.h"

namespace mindiff {

namespace {

// t [B], emb [B, dim]; element k = b * half + i of the B x half pairs.
__global__ void sinusoidal_embedding_kernel(const float* t, float* emb, int64_t batch,
                                            int64_t half, int64_t dim) {
  for (int64_t k = cuda::first_index(); k < batch * half; k += cuda::grid_stride()) {
    const int64_t b = k / half, i = k % half;
    const double arg = sinusoid_argument(t[b], i, half);
    emb[b * dim + i] = static_cast<float>(sin(arg));
    emb[b * dim + half + i] = static_cast<float>(cos(arg));
  }
}

}  // namespace

void sinusoidal_embedding_cuda(const Tensor& t, const Tensor& emb, int64_t half) {
  const int64_t batch = t.numel(), n = batch * half;
  if (n == 0) return;
  MD_LAUNCH(sinusoidal_embedding_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, t.data(),
            emb.data(), batch, half, emb.size(1));
}

}  // namespace mindiff
