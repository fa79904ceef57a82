// CUDA launchers of the elementwise ops (tensor/ops/unary.cpp, binary.cpp). The per-element
// math is the functors of tensor/ops/elementwise_math.h, picked by kind. Inputs on the CUDA
// device with any strides; outputs fresh and contiguous.
#pragma once
#include "tensor/ops/elementwise_math.h"
#include "tensor/tensor.h"

namespace mindiff {

// y = f(x); `s` is the scalar of add/mul/pow (ignored by the others).
Tensor unary_cuda(UnaryKind kind, float s, const Tensor& x);
// dx = dout * df(x, y), dout broadcast to x's shape.
Tensor unary_backward_cuda(UnaryKind kind, float s, const Tensor& dout, const Tensor& x,
                           const Tensor& y);
// out = f(a, b) over `shape`, the broadcast shape of a and b.
Tensor binary_cuda(BinaryKind kind, const Tensor& a, const Tensor& b, const Shape& shape);

}  // namespace mindiff
