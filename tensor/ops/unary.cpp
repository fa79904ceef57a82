// Elementwise unary ops. Each is y = f(x) with backward dx = dout * f'(x), where f' is written
// from x and/or y, whichever is cheaper (e.g. exp' = y, tanh' = 1 - y^2).
#include "tensor/ops/unary.h"

#include <cmath>

#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"
#include "tensor/ops/scalar_math.h"

namespace mindiff {

namespace {

// y = f(x); dx = dout * df(x, y). Saves x and y (detached) for backward only when needed.
// f and df must be lambdas (not function pointers) so that they inline into the element loop.
template <class F, class DF>
Tensor unary_op(const OpInfo& op, const Tensor& x, F f, DF df) {
  require_cpu(op.name, {x});
  Tensor y = map_unary_cpu(x, f);
  if (needs_grad({x})) {
    record(op, y, {x}, [xs = x.detach(), ys = y.detach(), df](const Tensor& dout) {
      return std::vector<Tensor>{map_ternary_cpu(
          dout, xs, ys, [df](float g, float xv, float yv) { return g * df(xv, yv); })};
    });
  }
  return y;
}

const OpInfo kNeg("neg"), kExp("exp"), kLog("log"), kSqrt("sqrt"), kSquare("square"),
    kTanh("tanh"), kSigmoid("sigmoid"), kSilu("silu"), kRelu("relu"), kGelu("gelu"), kAbs("abs"),
    kAddScalar("add_scalar"), kMulScalar("mul_scalar"), kPowScalar("pow_scalar");

}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op(kNeg, x, [](float v) { return -v; }, [](float, float) { return -1.0f; });
}
// exp' = exp = y
Tensor exp(const Tensor& x) {
  return unary_op(kExp, x, [](float v) { return expf(v); }, [](float, float y) { return y; });
}
// log' = 1/x
Tensor log(const Tensor& x) {
  return unary_op(kLog, x, [](float v) { return logf(v); }, [](float v, float) { return 1.0f / v; });
}
// sqrt' = 1 / (2 sqrt(x)) = 1 / (2y)
Tensor sqrt(const Tensor& x) {
  return unary_op(kSqrt, x, [](float v) { return sqrtf(v); },
                  [](float, float y) { return 0.5f / y; });
}
// (x^2)' = 2x
Tensor square(const Tensor& x) {
  return unary_op(kSquare, x, [](float v) { return v * v; },
                  [](float v, float) { return 2.0f * v; });
}
// tanh' = 1 - tanh^2 = 1 - y^2
Tensor tanh(const Tensor& x) {
  return unary_op(kTanh, x, [](float v) { return tanhf(v); },
                  [](float, float y) { return 1.0f - y * y; });
}
// sigmoid' = s (1 - s) = y (1 - y)
Tensor sigmoid(const Tensor& x) {
  return unary_op(kSigmoid, x, [](float v) { return sigmoid_f(v); },
                  [](float, float y) { return y * (1.0f - y); });
}
Tensor silu(const Tensor& x) {
  return unary_op(kSilu, x, [](float v) { return silu_f(v); },
                  [](float v, float) { return silu_grad_f(v); });
}
// relu' = 1 for x > 0, else 0 (the subgradient 0 at the kink, as everywhere in the field)
Tensor relu(const Tensor& x) {
  return unary_op(kRelu, x, [](float v) { return v > 0.0f ? v : 0.0f; },
                  [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
}
Tensor gelu(const Tensor& x) {
  return unary_op(kGelu, x, [](float v) { return gelu_f(v); },
                  [](float v, float) { return gelu_grad_f(v); });
}
// |x|' = sign(x), 0 at 0
Tensor abs(const Tensor& x) {
  return unary_op(kAbs, x, [](float v) { return fabsf(v); },
                  [](float v, float) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); });
}

Tensor add(const Tensor& x, float s) {
  return unary_op(kAddScalar, x, [s](float v) { return v + s; }, [](float, float) { return 1.0f; });
}
Tensor mul(const Tensor& x, float s) {
  return unary_op(kMulScalar, x, [s](float v) { return v * s; }, [s](float, float) { return s; });
}
// (x^p)' = p x^(p-1)
Tensor pow(const Tensor& x, float p) {
  return unary_op(kPowScalar, x, [p](float v) { return powf(v, p); },
                  [p](float v, float) { return p * powf(v, p - 1.0f); });
}

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& x, float s) { return add(x, s); }
Tensor operator+(float s, const Tensor& x) { return add(x, s); }
Tensor operator-(const Tensor& x, float s) { return add(x, -s); }
Tensor operator-(float s, const Tensor& x) { return add(neg(x), s); }
Tensor operator*(const Tensor& x, float s) { return mul(x, s); }
Tensor operator*(float s, const Tensor& x) { return mul(x, s); }
Tensor operator/(const Tensor& x, float s) { return mul(x, 1.0f / s); }
Tensor operator/(float s, const Tensor& x) { return mul(pow(x, -1.0f), s); }

}  // namespace mindiff
