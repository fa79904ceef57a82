// Elementwise unary ops. Each is y = f(x) with backward dx = dout * f'(x), where f' is written
// from x and/or y, whichever is cheaper (e.g. exp' = y, tanh' = 1 - y^2).
#include "tensor/ops/unary.h"

#include <cmath>

#include "cuda/elementwise.h"
#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"
#include "tensor/ops/elementwise_math.h"
#include "tensor/ops/vector_math.h"

namespace mindiff {

namespace {

// The CPU's element functions: the shared formulas of elementwise_math.h, except where a
// branch-free version lets the compiler vectorise the loop (vector_math.h).
template <class Fn>
struct CpuMath {
  static float f(const Fn& fn, float x) { return fn.f(x); }
  static float df(const Fn& fn, float x, float y) { return fn.df(x, y); }
};
template <>
struct CpuMath<SigmoidFn> {
  static float f(const SigmoidFn&, float x) { return sigmoid_vec(x); }
  static float df(const SigmoidFn& fn, float x, float y) { return fn.df(x, y); }
};
template <>
struct CpuMath<SiluFn> {
  static float f(const SiluFn&, float x) { return silu_vec(x); }
  static float df(const SiluFn&, float x, float) { return silu_grad_vec(x); }
};

// y = f(x); dx = dout * df(x, y). Saves x and y (detached) for backward only when needed.
// Fn is a functor of elementwise_math.h, inlined into the CPU element loop and compiled into the
// CUDA kernel: the formulas exist once.
template <class Fn>
Tensor unary_op(const OpInfo& op, const Tensor& x, Fn fn) {
  const Device device = common_device(op.name, {x});
  Tensor y = device == Device::CUDA ? unary_cuda(Fn::kind, fn.s, x)
                                    : map_unary_cpu(x, [fn](float v) { return CpuMath<Fn>::f(fn, v); });
  if (needs_grad({x})) {
    record(op, y, {x}, [xs = x.detach(), ys = y.detach(), fn](const Tensor& dout) {
      if (dout.device() == Device::CUDA)
        return std::vector<Tensor>{unary_backward_cuda(Fn::kind, fn.s, dout, xs, ys)};
      return std::vector<Tensor>{map_ternary_cpu(
          dout, xs, ys, [fn](float g, float xv, float yv) { return g * CpuMath<Fn>::df(fn, xv, yv); })};
    });
  }
  return y;
}

const OpInfo kNeg("neg"), kExp("exp"), kLog("log"), kSqrt("sqrt"), kSquare("square"),
    kTanh("tanh"), kSigmoid("sigmoid"), kSilu("silu"), kRelu("relu"), kGelu("gelu"), kAbs("abs"),
    kAddScalar("add_scalar"), kMulScalar("mul_scalar"), kPowScalar("pow_scalar");

}  // namespace

// Formulas and derivatives: tensor/ops/elementwise_math.h.
Tensor neg(const Tensor& x) { return unary_op(kNeg, x, NegFn{}); }
Tensor exp(const Tensor& x) { return unary_op(kExp, x, ExpFn{}); }
Tensor log(const Tensor& x) { return unary_op(kLog, x, LogFn{}); }
Tensor sqrt(const Tensor& x) { return unary_op(kSqrt, x, SqrtFn{}); }
Tensor square(const Tensor& x) { return unary_op(kSquare, x, SquareFn{}); }
Tensor tanh(const Tensor& x) { return unary_op(kTanh, x, TanhFn{}); }
Tensor sigmoid(const Tensor& x) { return unary_op(kSigmoid, x, SigmoidFn{}); }
Tensor silu(const Tensor& x) { return unary_op(kSilu, x, SiluFn{}); }
Tensor relu(const Tensor& x) { return unary_op(kRelu, x, ReluFn{}); }
Tensor gelu(const Tensor& x) { return unary_op(kGelu, x, GeluFn{}); }
Tensor abs(const Tensor& x) { return unary_op(kAbs, x, AbsFn{}); }

// A composition, so it runs and differentiates on every device with no kernel of its own:
//   max(x, lo) = lo + relu(x - lo),   min(y, hi) = hi - relu(hi - y),
// and a NaN passes through both, as it passes through relu.
Tensor clamp(const Tensor& x, float lo, float hi) {
  MD_CHECK(lo <= hi, "clamp: lower bound ", lo, " above upper bound ", hi);
  return hi - relu(hi - (lo + relu(x - lo)));
}

Tensor add(const Tensor& x, float s) { return unary_op(kAddScalar, x, AddScalarFn{s}); }
Tensor mul(const Tensor& x, float s) { return unary_op(kMulScalar, x, MulScalarFn{s}); }
// x^p for any real p (negative x needs an integer p, as in std::pow)
Tensor pow(const Tensor& x, float p) { return unary_op(kPowScalar, x, PowScalarFn{p}); }

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
