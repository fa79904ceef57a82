// View ops as free functions (the same as the Tensor members reshape, permute, ...). Each is a
// differentiable op whose output shares the input's storage (reshape copies only when the
// input cannot be viewed with the new shape).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

inline Tensor reshape(const Tensor& x, const Shape& s) { return x.reshape(s); }
inline Tensor permute(const Tensor& x, const std::vector<int>& axes) { return x.permute(axes); }
inline Tensor transpose(const Tensor& x, int a, int b) { return x.transpose(a, b); }
inline Tensor expand(const Tensor& x, const Shape& s) { return x.expand(s); }
inline Tensor contiguous(const Tensor& x) { return x.contiguous(); }

}  // namespace mindiff
