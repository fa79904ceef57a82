// CUDA launchers of conv2d (tensor/ops/conv2d.cpp; formula, derivative and shapes in conv2d.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// The validated geometry (conv2d.cpp's check): x [B, C, H, W], weight [O, C, KH, KW],
// out [B, O, HO, WO], stride S, padding P.
struct Conv2dShape {
  int64_t B, C, H, W, O, KH, KW, HO, WO, S, P;
};

// out = conv2d(x, weight) + bias (bias undefined for none); inputs on the device, any strides.
Tensor conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dShape& g);

struct Conv2dCudaGrads {
  Tensor dx, dweight, dbias;
};
// The gradients that are asked for (the others stay undefined), from dout [B, O, HO, WO].
Conv2dCudaGrads conv2d_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                     const Conv2dShape& g, bool need_dx, bool need_dw,
                                     bool need_db);

}  // namespace mindiff
