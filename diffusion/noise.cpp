#include "diffusion/noise.h"

#include <algorithm>

namespace mindiff::diffusion {

namespace {
// SplitMix64 finaliser: turns (seed, step) into a well-mixed Philox key, so streams of
// neighbouring steps or seeds share no structure.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

Tensor step_noise(const Shape& shape, uint64_t seed, uint64_t step, int64_t first_index) {
  MD_CHECK(shape.ndim() >= 1, "step_noise: shape ", shape.str(), " has no batch axis");
  const int64_t batch = shape[0], per_sample = shape.numel() / (batch > 0 ? batch : 1);
  // A normal draw of n values uses ceil(n / 2) Philox blocks; each sample owns that many.
  const uint64_t blocks_per_sample = static_cast<uint64_t>((per_sample + 1) / 2);
  const uint64_t key = mix(seed ^ mix(step + 0x5bd1e995ull));
  Tensor out = empty(shape);
  std::vector<int64_t> row_shape(shape.begin() + 1, shape.end());
  for (int64_t b = 0; b < batch; ++b) {
    Generator gen(key, static_cast<uint64_t>(first_index + b) * blocks_per_sample);
    Tensor row = randn(Shape(row_shape), gen);
    std::copy(row.data(), row.data() + per_sample, out.data() + b * per_sample);
  }
  return out;
}

}  // namespace mindiff::diffusion
