// The sinusoidal embedding's per-element math (embedding.h), written once for the CPU loop
// (embedding.cpp) and the CUDA kernel (cuda/embedding.cu). In double so that the embedding of a
// large t (network times run up to about 1000) keeps its phase: float would lose it to rounding
// of the argument (999 * f has an ulp of 6e-5).
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/device.h"

namespace mindiff {

// The argument t f_i of column i < half:  f_i = exp(-ln(10000) i / half).
MD_HOST_DEVICE double sinusoid_argument(float t, int64_t i, int64_t half) {
  const double f = exp(-log(10000.0) * static_cast<double>(i) / static_cast<double>(half));
  return static_cast<double>(t) * f;
}

}  // namespace mindiff
