// Scalar functions and their derivatives, written once for the CPU and CUDA backends.
#pragma once
#include <cmath>

#include "tensor/device.h"

namespace mindiff {

// sigmoid(x) = 1 / (1 + e^-x), evaluated without overflow for large |x|.
MD_HOST_DEVICE float sigmoid_f(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

// silu(x) = x sigmoid(x);  silu'(x) = s + x s (1 - s) with s = sigmoid(x).
MD_HOST_DEVICE float silu_f(float x) { return x * sigmoid_f(x); }
MD_HOST_DEVICE float silu_grad_f(float x) {
  float s = sigmoid_f(x);
  return s * (1.0f + x * (1.0f - s));
}

// gelu(x) = x Phi(x) with Phi the standard normal CDF (the exact form, not the tanh fit);
// gelu'(x) = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi).
MD_HOST_DEVICE float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
MD_HOST_DEVICE float gelu_grad_f(float x) {
  float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
  float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

}  // namespace mindiff
