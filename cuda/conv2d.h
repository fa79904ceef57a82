// CUDA launchers of conv2d (tensor/ops/conv2d.cpp; formula, derivative and shapes in conv2d.h).
// They take the geometry conv2d.cpp validated, the struct its CPU kernels take.
#pragma once
#include "tensor/ops/conv2d_geometry.h"
#include "tensor/tensor.h"

namespace mindiff {

// How the device computes a convolution (cuda/conv2d.cu): as an implicit GEMM on the tile kernels
// (the default: no im2col matrix in memory), or by writing im2col's matrix and multiplying it.
enum class Conv2dAlgorithm { ImplicitGemm, Im2col };

// out = conv2d(x, weight) + bias (bias undefined for none); inputs on the device, any strides.
Tensor conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dGeometry& g,
                           Conv2dAlgorithm algorithm = Conv2dAlgorithm::ImplicitGemm);

// The gradients that are asked for (the others stay undefined), from dout [B, O, HO, WO].
Conv2dGrads conv2d_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                 const Conv2dGeometry& g, bool need_dx, bool need_dw,
                                 bool need_db,
                                 Conv2dAlgorithm algorithm = Conv2dAlgorithm::ImplicitGemm);

}  // namespace mindiff
