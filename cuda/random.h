// The counter-based generator on the CUDA device: the same numbers as the CPU (tensor/philox.h).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mindiff {

// dst (contiguous, CUDA) element i = philox_normal_at(seed, first, i) when `normal`, else
// philox_uniform_at(seed, first, i): exactly what tensor.cpp's CPU loop computes.
void random_fill_cuda(const Tensor& dst, uint64_t seed, uint64_t first, bool normal);

}  // namespace mindiff
