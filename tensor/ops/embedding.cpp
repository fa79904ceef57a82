// sinusoidal_embedding (formula in embedding.h): a loop on the CPU, a kernel on the device
// (cuda/embedding.cu), the same double-precision math (embedding_math.h).
#include "tensor/ops/embedding.h"

#include "cuda/embedding.h"
#include "tensor/ops/common.h"
#include "tensor/ops/embedding_math.h"

namespace mindiff {

Tensor sinusoidal_embedding(const Tensor& t, int64_t dim) {
  MD_CHECK(t.ndim() == 1, "timestep_embedding: t must be [B], got ", t.shape().str());
  MD_CHECK(dim >= 2, "timestep_embedding: dim must be at least 2, got ", dim);
  const int64_t batch = t.size(0), half = dim / 2;
  const Tensor tc = t.detach().contiguous();
  Tensor emb = zeros({batch, dim}, t.device());  // the odd column stays zero
  if (t.device() == Device::CUDA) {
    sinusoidal_embedding_cuda(tc, emb, half);
    return emb;
  }
  const float* tv = tc.data();
  float* e = emb.data();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < half; ++i) {
      const double arg = sinusoid_argument(tv[b], i, half);
      e[b * dim + i] = static_cast<float>(std::sin(arg));
      e[b * dim + half + i] = static_cast<float>(std::cos(arg));
    }
  }
  return emb;
}

}  // namespace mindiff
