// What conv2d's CPU kernels (tensor/ops/conv2d*.cpp) and its CUDA launchers (cuda/conv2d.cu)
// share: the validated geometry of one convolution and the triple of gradients. conv2d.cpp
// computes the geometry once (check_conv2d) and hands the same struct to either backend.
// Header only, for host and device: it includes the tensor core and nothing above it.
#pragma once
#include <cstdint>

#include "tensor/device.h"
#include "tensor/tensor.h"

namespace mindiff {

// x [B, C, H, W], weight [O, C, KH, KW], out [B, O, HO, WO]; stride S and padding P, the same
// along both spatial axes: HO = (H + 2P - KH) / S + 1, WO = (W + 2P - KW) / S + 1.
struct Conv2dGeometry {
  int64_t B, C, H, W, O, KH, KW, HO, WO, S, P;
  // im2col's matrix col_b [rows, cols] of one image: rows (c, kh, kw), columns (i, j).
  MD_HOST_DEVICE int64_t rows() const { return C * KH * KW; }
  MD_HOST_DEVICE int64_t cols() const { return HO * WO; }
};

// The gradients of conv2d with respect to x, weight and bias; each undefined unless asked for.
struct Conv2dGrads {
  Tensor dx, dweight, dbias;
};

}  // namespace mindiff
