// Elementwise binary ops with broadcasting. With c = f(a, b) over the broadcast shape, the
// gradient of each input is dout * df/d(input), summed back over the axes that input was
// broadcast along (sum_to):
//   add: da = dout,        db = dout
//   sub: da = dout,        db = -dout
//   mul: da = dout * b,    db = dout * a
//   div: da = dout / b,    db = -dout * a / b^2
#include "tensor/ops/binary.h"

#include "cuda/elementwise.h"
#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"
#include "tensor/ops/elementwise_math.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/unary.h"

namespace mindiff {

namespace {

const OpInfo kAdd("add"), kSub("sub"), kMul("mul"), kDiv("div");

// Fn: a functor of elementwise_math.h, the same formula on both devices.
template <class Fn>
Tensor binary_forward(const OpInfo& op, const Tensor& a, const Tensor& b, Fn fn) {
  const Device device = common_device(op.name, {a, b});
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op.name);
  if (device == Device::CUDA) return binary_cuda(Fn::kind, a, b, shape);
  return map_binary_cpu(a, b, shape, [fn](float x, float y) { return fn.f(x, y); });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor c = binary_forward(kAdd, a, b, AddFn{});
  if (needs_grad({a, b}))
    record(kAdd, c, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dout) {
      return std::vector<Tensor>{sum_to(dout, sa), sum_to(dout, sb)};
    });
  return c;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor c = binary_forward(kSub, a, b, SubFn{});
  if (needs_grad({a, b}))
    record(kSub, c, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dout) {
      return std::vector<Tensor>{sum_to(dout, sa), sum_to(neg(dout), sb)};
    });
  return c;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor c = binary_forward(kMul, a, b, MulFn{});
  if (needs_grad({a, b}))
    record(kMul, c, {a, b},
           [ad = a.detach(), bd = b.detach(), ga = a.requires_grad(),
            gb = b.requires_grad()](const Tensor& dout) {
             return std::vector<Tensor>{ga ? sum_to(mul(dout, bd), ad.shape()) : Tensor(),
                                        gb ? sum_to(mul(dout, ad), bd.shape()) : Tensor()};
           });
  return c;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor c = binary_forward(kDiv, a, b, DivFn{});
  if (needs_grad({a, b}))
    record(kDiv, c, {a, b},
           [ad = a.detach(), bd = b.detach(), ga = a.requires_grad(),
            gb = b.requires_grad()](const Tensor& dout) {
             Tensor da = ga ? sum_to(div(dout, bd), ad.shape()) : Tensor();
             Tensor db = gb ? sum_to(neg(div(mul(dout, ad), square(bd))), bd.shape()) : Tensor();
             return std::vector<Tensor>{da, db};
           });
  return c;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

}  // namespace mindiff
