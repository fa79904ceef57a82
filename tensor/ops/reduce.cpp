// Reductions. Forward: each output element combines the input elements that differ from it
// only along the reduced axes. Backward of sum: every input element receives the gradient of
// the output element it was summed into, dx = expand(dout with reduced axes kept as 1).
#include "tensor/ops/reduce.h"

#include "tensor/ops/common.h"
#include "tensor/strided.h"

namespace mindiff {

namespace {

const OpInfo kSum("sum");

// For output element o (one thread each), accumulates acc = combine(acc, x) over the reduced
// sub-space in row-major order, then writes finish(acc, count). Deterministic: the order of
// accumulation does not depend on the thread count.
template <class Acc, class Combine, class Finish>
Tensor reduce_cpu(const Tensor& x, unsigned mask, bool keepdim, Acc init, Combine combine,
                  Finish finish) {
  const Shape& in = x.shape();
  Shape out_shape = reduced_shape(in, mask, true);
  Index4 n = pad_shape4(in);
  Index4 st = broadcast_strides4(in, x.strides(), in);
  // Split the padded axes into kept (indexed by the output) and reduced ones.
  int pad = kMaxDims - in.ndim();
  Index4 rn{1, 1, 1, 1}, rst{0, 0, 0, 0};
  int nr = 0;
  Index4 kn = n;  // kept extents (1 on reduced axes)
  for (int a = 0; a < in.ndim(); ++a) {
    if (mask & (1u << a)) {
      rn[nr] = n[pad + a];
      rst[nr] = st[pad + a];
      ++nr;
      kn[pad + a] = 1;
    }
  }
  int64_t count = 1;
  for (int r = 0; r < nr; ++r) count *= rn[r];
  Tensor out = empty(out_shape);
  float* o = out.data();
  const float* src = x.data();
  const int64_t n_out = out.numel();
#pragma omp parallel for schedule(static) if (n_out > 1 && n_out * count >= 32768)
  for (int64_t idx = 0; idx < n_out; ++idx) {
    int64_t rem = idx, base = 0;
    for (int a = kMaxDims - 1; a >= 0; --a) {
      base += (rem % kn[a]) * st[a];
      rem /= kn[a];
    }
    Acc acc = init;
    // Up to four nested reduced axes, innermost last.
    for (int64_t i0 = 0; i0 < rn[0]; ++i0)
      for (int64_t i1 = 0; i1 < rn[1]; ++i1)
        for (int64_t i2 = 0; i2 < rn[2]; ++i2) {
          const float* p = src + base + i0 * rst[0] + i1 * rst[1] + i2 * rst[2];
          for (int64_t i3 = 0; i3 < rn[3]; ++i3) acc = combine(acc, p[i3 * rst[3]]);
        }
    o[idx] = finish(acc, count);
  }
  return keepdim ? out : out.view(reduced_shape(in, mask, false));
}

}  // namespace

unsigned axis_mask(const std::vector<int>& axes, int ndim, const char* op) {
  if (axes.empty()) return (1u << ndim) - 1u;
  unsigned mask = 0;
  for (int a : axes) {
    unsigned bit = 1u << normalize_axis(a, ndim, op);
    MD_CHECK(!(mask & bit), op, ": axis ", a, " given twice");
    mask |= bit;
  }
  return mask;
}

Shape reduced_shape(const Shape& in, unsigned mask, bool keepdim) {
  std::vector<int64_t> dims;
  for (int a = 0; a < in.ndim(); ++a) {
    if (!(mask & (1u << a)))
      dims.push_back(in[a]);
    else if (keepdim)
      dims.push_back(1);
  }
  return Shape(dims);
}

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  require_cpu("sum", {x});
  unsigned mask = axis_mask(axes, x.ndim(), "sum");
  // Accumulate in double: sums of many float32 terms lose digits otherwise.
  Tensor out = reduce_cpu(
      x, mask, keepdim, 0.0, [](double acc, float v) { return acc + v; },
      [](double acc, int64_t) { return static_cast<float>(acc); });
  if (needs_grad({x}))
    record(kSum, out, {x}, [in = x.shape(), mask](const Tensor& dout) {
      return std::vector<Tensor>{dout.reshape(reduced_shape(in, mask, true)).expand(in)};
    });
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const Shape& g = grad.shape();
  MD_CHECK(shape.ndim() <= g.ndim(), "sum_to: cannot reduce ", g.str(), " to ", shape.str());
  int lead = g.ndim() - shape.ndim();
  std::vector<int> axes;
  for (int a = 0; a < g.ndim(); ++a) {
    if (a < lead) {
      axes.push_back(a);
    } else {
      MD_CHECK(shape[a - lead] == g[a] || shape[a - lead] == 1, "sum_to: cannot reduce ", g.str(),
               " to ", shape.str());
      if (shape[a - lead] == 1 && g[a] != 1) axes.push_back(a);
    }
  }
  Tensor s = axes.empty() ? grad : sum(grad, axes, true);
  return s.reshape(shape);
}

}  // namespace mindiff
