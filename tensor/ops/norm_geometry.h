// The geometry group_norm and layer_norm (tensor/ops/norm.cpp) hand to their CPU kernels
// (norm_kernels.h) and CUDA launchers (cuda/norm.h) alike. Header only, for host and device: it
// includes the tensor core and nothing above it.
#pragma once
#include <cstdint>

#include "tensor/device.h"

namespace mindiff {

// x viewed as a dense [B, C, S], split into G groups of Cg = C / G consecutive channels (layer
// norm: one group of N single-element channels per row, {rows, N, 1, 1}).
struct NormGeometry {
  int64_t B, C, G, S;
  MD_HOST_DEVICE int64_t cg() const { return C / G; }
  MD_HOST_DEVICE int64_t group_size() const { return C / G * S; }
  MD_HOST_DEVICE int64_t groups() const { return B * G; }
};

}  // namespace mindiff
