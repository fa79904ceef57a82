// CUDA parity of the sinusoidal time embedding (tensor/ops/embedding.h): the network's times are
// embedded on the device, so the embedding must be the CPU's.
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

// The time embedding is computed in double on both devices and rounded to float: the emulator
// (the CPU's libm) gives the CPU's bits; a GPU's double sin/cos (within 2 ulp of double) change
// the float result by at most one float ulp of a value in [-1, 1].
float embedding_tolerance() { return cuda::emulated() ? 0.0f : 1.2e-7f; }

TEST(CudaEmbedding, SinusoidalEmbeddingIsTheCpus) {
  SKIP_WITHOUT_CUDA();
  // Network times as the processes give them (DDPM steps, 999 t, EDM's 250 ln t, negative
  // included), a strided view, even and odd widths.
  const Tensor t = from_data({0.0f, 3.0f, 998.0f, 499.5f, -1553.9f, 0.25f}, {6});
  for (int64_t dim : {2, 7, 32, 33}) {
    const Tensor cpu = sinusoidal_embedding(t, dim);
    const Tensor gpu = sinusoidal_embedding(t.to(Device::CUDA), dim);
    ASSERT_EQ(gpu.device(), Device::CUDA);
    EXPECT_TRUE(test::all_close(gpu, cpu, embedding_tolerance(), 0.0f)) << "dim " << dim;
  }
  const Tensor strided = t.slice(0, 1, 6, 2);  // every other time
  EXPECT_TRUE(test::all_close(sinusoidal_embedding(test::cuda_twin(strided), 16),
                              sinusoidal_embedding(strided, 16), embedding_tolerance(), 0.0f));
}

}  // namespace
}  // namespace mindiff
