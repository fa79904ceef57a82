// Elementwise kernels (see elementwise.h): one thread per output element, in a grid-stride loop.
//
// Two versions of each, chosen per launch:
//   dense    every operand contiguous with the output's shape: element i is at [i] in each,
//            neighbouring threads touch neighbouring addresses (coalesced loads and stores).
//   strided  any views: element i of operand k is at offset_of(view_k, i), which handles
//            transposes, slices and broadcasting (stride 0) at the cost of a few divisions.
#include "cuda/elementwise.h"

#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::offset_of;
using cuda::Strided4;

template <class Fn, bool kDense>
__global__ void unary_kernel(Fn fn, const float* x, Strided4 sx, float* y, int64_t n) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride())
    y[i] = fn.f(x[kDense ? i : offset_of(sx, i)]);
}

// dx = dout * df(x, y): the backward of every unary op.
template <class Fn, bool kDense>
__global__ void unary_backward_kernel(Fn fn, const float* dout, Strided4 sd, const float* x,
                                      Strided4 sx, const float* y, Strided4 sy, float* dx,
                                      int64_t n) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride()) {
    const float g = dout[kDense ? i : offset_of(sd, i)];
    dx[i] = g * fn.df(x[kDense ? i : offset_of(sx, i)], y[kDense ? i : offset_of(sy, i)]);
  }
}

template <class Fn, bool kDense>
__global__ void binary_kernel(Fn fn, const float* a, Strided4 sa, const float* b, Strided4 sb,
                              float* out, int64_t n) {
  for (int64_t i = cuda::first_index(); i < n; i += cuda::grid_stride())
    out[i] = fn.f(a[kDense ? i : offset_of(sa, i)], b[kDense ? i : offset_of(sb, i)]);
}

// Dense when every operand is a contiguous tensor of the output's shape (no broadcasting).
bool dense(const Shape& shape, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (!t->is_contiguous() || t->shape() != shape) return false;
  return true;
}

template <class Fn>
Tensor unary_launch(Fn fn, const Tensor& x) {
  Tensor y = empty(x.shape(), Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) return y;
  const unsigned blocks = cuda::blocks_for(n);
  if (dense(x.shape(), {&x}))
    MD_LAUNCH((unary_kernel<Fn, true>), blocks, cuda::kBlockThreads, 0, fn, x.data(),
              cuda::strided4(x), y.data(), n);
  else
    MD_LAUNCH((unary_kernel<Fn, false>), blocks, cuda::kBlockThreads, 0, fn, x.data(),
              cuda::strided4(x), y.data(), n);
  return y;
}

template <class Fn>
Tensor unary_backward_launch(Fn fn, const Tensor& dout, const Tensor& x, const Tensor& y) {
  Tensor dx = empty(x.shape(), Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) return dx;
  const unsigned blocks = cuda::blocks_for(n);
  const Strided4 sd = cuda::strided4(dout, x.shape()), sx = cuda::strided4(x),
                 sy = cuda::strided4(y);
  if (dense(x.shape(), {&dout, &x, &y}))
    MD_LAUNCH((unary_backward_kernel<Fn, true>), blocks, cuda::kBlockThreads, 0, fn, dout.data(),
              sd, x.data(), sx, y.data(), sy, dx.data(), n);
  else
    MD_LAUNCH((unary_backward_kernel<Fn, false>), blocks, cuda::kBlockThreads, 0, fn, dout.data(),
              sd, x.data(), sx, y.data(), sy, dx.data(), n);
  return dx;
}

template <class Fn>
Tensor binary_launch(Fn fn, const Tensor& a, const Tensor& b, const Shape& shape) {
  Tensor out = empty(shape, Device::CUDA);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const unsigned blocks = cuda::blocks_for(n);
  const Strided4 sa = cuda::strided4(a, shape), sb = cuda::strided4(b, shape);
  if (dense(shape, {&a, &b}))
    MD_LAUNCH((binary_kernel<Fn, true>), blocks, cuda::kBlockThreads, 0, fn, a.data(), sa,
              b.data(), sb, out.data(), n);
  else
    MD_LAUNCH((binary_kernel<Fn, false>), blocks, cuda::kBlockThreads, 0, fn, a.data(), sa,
              b.data(), sb, out.data(), n);
  return out;
}

// Calls `launch(functor)` with the functor of `kind`: the one place where a kind becomes code.
template <class Launch>
Tensor with_unary(UnaryKind kind, float s, Launch launch) {
  switch (kind) {
    case UnaryKind::Neg: return launch(NegFn{s});
    case UnaryKind::Exp: return launch(ExpFn{s});
    case UnaryKind::Log: return launch(LogFn{s});
    case UnaryKind::Sqrt: return launch(SqrtFn{s});
    case UnaryKind::Square: return launch(SquareFn{s});
    case UnaryKind::Tanh: return launch(TanhFn{s});
    case UnaryKind::Sigmoid: return launch(SigmoidFn{s});
    case UnaryKind::Silu: return launch(SiluFn{s});
    case UnaryKind::Relu: return launch(ReluFn{s});
    case UnaryKind::Gelu: return launch(GeluFn{s});
    case UnaryKind::Abs: return launch(AbsFn{s});
    case UnaryKind::AddScalar: return launch(AddScalarFn{s});
    case UnaryKind::MulScalar: return launch(MulScalarFn{s});
    case UnaryKind::PowScalar: return launch(PowScalarFn{s});
  }
  throw Error("unary_cuda: unknown kind");
}

}  // namespace

Tensor unary_cuda(UnaryKind kind, float s, const Tensor& x) {
  return with_unary(kind, s, [&](auto fn) { return unary_launch(fn, x); });
}

Tensor unary_backward_cuda(UnaryKind kind, float s, const Tensor& dout, const Tensor& x,
                           const Tensor& y) {
  return with_unary(kind, s, [&](auto fn) { return unary_backward_launch(fn, dout, x, y); });
}

Tensor binary_cuda(BinaryKind kind, const Tensor& a, const Tensor& b, const Shape& shape) {
  switch (kind) {
    case BinaryKind::Add: return binary_launch(AddFn{}, a, b, shape);
    case BinaryKind::Sub: return binary_launch(SubFn{}, a, b, shape);
    case BinaryKind::Mul: return binary_launch(MulFn{}, a, b, shape);
    case BinaryKind::Div: return binary_launch(DivFn{}, a, b, shape);
  }
  throw Error("binary_cuda: unknown kind");
}

}  // namespace mindiff
