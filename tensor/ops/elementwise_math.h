// The per-element math of the elementwise ops, written once for the CPU kernels
// (elementwise_kernels.h, inlined into their loops) and the CUDA kernels (cuda/elementwise.cu).
//
// A unary op is a functor with
//   f(x)        the value y = f(x)
//   df(x, y)    the derivative dy/dx, from x or y, whichever is cheaper
//   kind        its tag, by which the CUDA launcher picks the kernel instance
// and a scalar `s` for the ops that take one (x + s, x * s, x^s). A binary op has f(a, b).
#pragma once
#include <cmath>

#include "tensor/device.h"
#include "tensor/ops/scalar_math.h"

namespace mindiff {

enum class UnaryKind {
  Neg, Exp, Log, Sqrt, Square, Tanh, Sigmoid, Silu, Relu, Gelu, Abs, AddScalar, MulScalar, PowScalar
};

struct NegFn {
  static constexpr UnaryKind kind = UnaryKind::Neg;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return -x; }
  MD_HOST_DEVICE float df(float, float) const { return -1.0f; }
};
// exp' = exp = y
struct ExpFn {
  static constexpr UnaryKind kind = UnaryKind::Exp;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return expf(x); }
  MD_HOST_DEVICE float df(float, float y) const { return y; }
};
// log' = 1/x
struct LogFn {
  static constexpr UnaryKind kind = UnaryKind::Log;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return logf(x); }
  MD_HOST_DEVICE float df(float x, float) const { return 1.0f / x; }
};
// sqrt' = 1 / (2 sqrt(x)) = 1 / (2y)
struct SqrtFn {
  static constexpr UnaryKind kind = UnaryKind::Sqrt;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return sqrtf(x); }
  MD_HOST_DEVICE float df(float, float y) const { return 0.5f / y; }
};
// (x^2)' = 2x
struct SquareFn {
  static constexpr UnaryKind kind = UnaryKind::Square;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return x * x; }
  MD_HOST_DEVICE float df(float x, float) const { return 2.0f * x; }
};
// tanh' = 1 - tanh^2 = 1 - y^2
struct TanhFn {
  static constexpr UnaryKind kind = UnaryKind::Tanh;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return tanhf(x); }
  MD_HOST_DEVICE float df(float, float y) const { return 1.0f - y * y; }
};
// sigmoid' = s (1 - s) = y (1 - y)
struct SigmoidFn {
  static constexpr UnaryKind kind = UnaryKind::Sigmoid;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return sigmoid_f(x); }
  MD_HOST_DEVICE float df(float, float y) const { return y * (1.0f - y); }
};
struct SiluFn {
  static constexpr UnaryKind kind = UnaryKind::Silu;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return silu_f(x); }
  MD_HOST_DEVICE float df(float x, float) const { return silu_grad_f(x); }
};
// relu(x) = max(x, 0), NaN for NaN (as in PyTorch: a NaN must not turn into a plausible 0);
// relu' = 1 for x > 0, else 0 (the subgradient 0 at the kink, as everywhere in the field; 0 for
// NaN, as PyTorch's threshold_backward)
struct ReluFn {
  static constexpr UnaryKind kind = UnaryKind::Relu;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return x > 0.0f || x != x ? x : 0.0f; }
  MD_HOST_DEVICE float df(float x, float) const { return x > 0.0f ? 1.0f : 0.0f; }
};
struct GeluFn {
  static constexpr UnaryKind kind = UnaryKind::Gelu;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return gelu_f(x); }
  MD_HOST_DEVICE float df(float x, float) const { return gelu_grad_f(x); }
};
// |x|' = sign(x), 0 at 0
struct AbsFn {
  static constexpr UnaryKind kind = UnaryKind::Abs;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return fabsf(x); }
  MD_HOST_DEVICE float df(float x, float) const {
    return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
  }
};
struct AddScalarFn {
  static constexpr UnaryKind kind = UnaryKind::AddScalar;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return x + s; }
  MD_HOST_DEVICE float df(float, float) const { return 1.0f; }
};
struct MulScalarFn {
  static constexpr UnaryKind kind = UnaryKind::MulScalar;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return x * s; }
  MD_HOST_DEVICE float df(float, float) const { return s; }
};
// (x^p)' = p x^(p-1)
struct PowScalarFn {
  static constexpr UnaryKind kind = UnaryKind::PowScalar;
  float s = 0.0f;
  MD_HOST_DEVICE float f(float x) const { return powf(x, s); }
  MD_HOST_DEVICE float df(float x, float) const { return s * powf(x, s - 1.0f); }
};

enum class BinaryKind { Add, Sub, Mul, Div };

struct AddFn {
  static constexpr BinaryKind kind = BinaryKind::Add;
  MD_HOST_DEVICE float f(float a, float b) const { return a + b; }
};
struct SubFn {
  static constexpr BinaryKind kind = BinaryKind::Sub;
  MD_HOST_DEVICE float f(float a, float b) const { return a - b; }
};
struct MulFn {
  static constexpr BinaryKind kind = BinaryKind::Mul;
  MD_HOST_DEVICE float f(float a, float b) const { return a * b; }
};
struct DivFn {
  static constexpr BinaryKind kind = BinaryKind::Div;
  MD_HOST_DEVICE float f(float a, float b) const { return a / b; }
};

}  // namespace mindiff
