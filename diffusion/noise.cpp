#include "diffusion/noise.h"

#include "tensor/philox.h"

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

Tensor step_noise(const Shape& shape, uint64_t seed, uint64_t step, int64_t first_index,
                  Device device) {
  MD_CHECK(shape.ndim() >= 1, "step_noise: shape ", shape.str(), " has no batch axis");
  const int64_t batch = shape[0], per_sample = batch > 0 ? shape.numel() / batch : 0;
  // A normal draw of n values uses ceil(n / 2) Philox blocks; each sample owns that many, so
  // sample i's noise sits at blocks [i * per, (i + 1) * per) whatever the batch it is drawn in.
  const uint64_t blocks_per_sample = static_cast<uint64_t>((per_sample + 1) / 2);
  const uint64_t key = mix(seed ^ mix(step + 0x5bd1e995ull));
  if (device != Device::CPU) {
    // One draw of B rows of 2 * blocks_per_sample normals from block first_index * per: row b
    // then starts at block (first_index + b) * per, where the loop below puts sample b. An odd
    // P leaves one unused value per row, sliced off.
    const int64_t row = 2 * static_cast<int64_t>(blocks_per_sample);
    Generator gen(key, static_cast<uint64_t>(first_index) * blocks_per_sample);
    const Tensor rows = randn(Shape({batch, row}), gen, device);
    return (row == per_sample ? rows : rows.slice(1, 0, per_sample).contiguous()).reshape(shape);
  }
  Tensor out = empty(shape);
  float* o = out.data();
#pragma omp parallel for schedule(static) if (shape.numel() >= 16384)
  for (int64_t b = 0; b < batch; ++b) {
    const uint64_t first = static_cast<uint64_t>(first_index + b) * blocks_per_sample;
    for (int64_t j = 0; j < per_sample; ++j)
      o[b * per_sample + j] = philox_normal_at(key, first, static_cast<uint64_t>(j));
  }
  return out;
}

}  // namespace mindiff::diffusion
