// Sampler noise that depends only on (seed, step, sample index): the same seed gives the same
// images whatever the batch size --n or the thread count, and sample i of a run of 64 equals
// sample i of a run of 8.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mindiff::diffusion {

// Standard normal noise of `shape` = [B, ...] for sampler step `step`: row b is the noise of
// sample first_index + b, drawn from Philox stream (seed, step) at a position set by the sample
// index alone. On the CUDA device the same numbers are drawn there (tensor/philox.h is shared).
Tensor step_noise(const Shape& shape, uint64_t seed, uint64_t step, int64_t first_index = 0,
                  Device device = Device::CPU);

}  // namespace mindiff::diffusion
