// Elementwise unary ops and the scalar forms of the arithmetic ops. All differentiable.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor abs(const Tensor& x);
// min(max(x, lo), hi), NaN for NaN (as PyTorch); the gradient is 1 strictly inside [lo, hi]
// and 0 outside (and at NaN).
Tensor clamp(const Tensor& x, float lo, float hi);

// Scalar forms: x + s, x * s, x^p (p any real; negative x needs an integer p, as in std::pow).
Tensor add(const Tensor& x, float s);
Tensor mul(const Tensor& x, float s);
Tensor pow(const Tensor& x, float p);

Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& x, float s);
Tensor operator+(float s, const Tensor& x);
Tensor operator-(const Tensor& x, float s);
Tensor operator-(float s, const Tensor& x);
Tensor operator*(const Tensor& x, float s);
Tensor operator*(float s, const Tensor& x);
Tensor operator/(const Tensor& x, float s);
Tensor operator/(float s, const Tensor& x);

}  // namespace mindiff
