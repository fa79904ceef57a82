// Reductions. Forward: each output element combines the input elements that differ from it
// only along the reduced axes (one thread per output element, accumulating in double, in the
// same row-major order whatever the thread count). Backward (formulas in reduce.h): the gradient
// of an output element goes back to the input elements it was computed from, i.e. dout with the
// reduced axes kept as 1 and broadcast back over them, times the per-element derivative.
#include "tensor/ops/reduce.h"

#include <cmath>

#include "cuda/reduce.h"
#include "tensor/ops/binary.h"
#include "tensor/ops/common.h"
#include "tensor/ops/elementwise_kernels.h"
#include "tensor/ops/unary.h"
#include "tensor/strided.h"

namespace mindiff {

namespace {

const OpInfo kSum("sum"), kMean("mean"), kMax("max"), kVar("var");

// Geometry of reducing x over the axes in `mask`, in rank-4 padded form.
//   Output element idx (row-major over the kept axes) starts at x offset base(idx).
//   visit(p, f) calls f(value) for the `count` elements of its reduced sub-space in row-major
//   order; the reduced axes are right-aligned in rn/rst so the innermost loop runs along the
//   innermost reduced axis (unit stride when reducing the last axis of a contiguous tensor).
struct ReduceGeometry {
  Index4 kn{1, 1, 1, 1};   // kept extents (1 on reduced axes): the keepdim output shape
  Index4 st{0, 0, 0, 0};   // x's strides
  Index4 rn{1, 1, 1, 1};   // reduced extents, innermost last
  Index4 rst{0, 0, 0, 0};  // x's strides along the reduced axes
  int64_t count = 1;       // N: elements per output element

  ReduceGeometry(const Tensor& x, unsigned mask) {
    const Shape& in = x.shape();
    const int pad = kMaxDims - in.ndim();
    int nr = 0;
    for (int a = 0; a < in.ndim(); ++a) nr += (mask >> a) & 1u;
    int r = kMaxDims - nr;
    for (int a = 0; a < in.ndim(); ++a) {
      st[pad + a] = x.strides()[a];
      if (mask & (1u << a)) {
        rn[r] = in[a];
        rst[r] = x.strides()[a];
        ++r;
        count *= in[a];
      } else {
        kn[pad + a] = in[a];
      }
    }
  }

  int64_t base(int64_t idx) const {
    int64_t off = 0;
    for (int a = kMaxDims - 1; a >= 0; --a) {
      off += (idx % kn[a]) * st[a];
      idx /= kn[a];
    }
    return off;
  }

  template <class F>
  void visit(const float* p, F&& f) const {
    for (int64_t i0 = 0; i0 < rn[0]; ++i0)
      for (int64_t i1 = 0; i1 < rn[1]; ++i1)
        for (int64_t i2 = 0; i2 < rn[2]; ++i2) {
          const float* q = p + i0 * rst[0] + i1 * rst[1] + i2 * rst[2];
          if (rst[3] == 1) {
            for (int64_t i3 = 0; i3 < rn[3]; ++i3) f(q[i3]);
          } else {
            for (int64_t i3 = 0; i3 < rn[3]; ++i3) f(q[i3 * rst[3]]);
          }
        }
  }
};

// out[idx] = per_output(pointer to the first input element of output idx, geometry).
// Threaded over output elements; each is computed by one thread, so results are deterministic.
template <class PerOutput>
Tensor reduce_cpu(const Tensor& x, unsigned mask, bool keepdim, PerOutput per_output) {
  constexpr int64_t kSerialBelow = 32768;  // input elements; below this one thread is faster
  const ReduceGeometry g(x, mask);
  Tensor out = empty(reduced_shape(x.shape(), mask, true));
  float* o = out.data();
  const float* src = x.data();
  const int64_t n_out = out.numel();
#pragma omp parallel for schedule(static) if (n_out > 1 && n_out * g.count >= kSerialBelow)
  for (int64_t idx = 0; idx < n_out; ++idx) o[idx] = per_output(src + g.base(idx), g);
  return keepdim ? out : out.view(reduced_shape(x.shape(), mask, false));
}

// The fold form: acc = combine(acc, x) over the reduced elements from `init`, then
// finish(acc, N).
template <class Acc, class Combine, class Finish>
Tensor reduce_cpu(const Tensor& x, unsigned mask, bool keepdim, Acc init, Combine combine,
                  Finish finish) {
  return reduce_cpu(x, mask, keepdim, [&](const float* p, const ReduceGeometry& g) {
    Acc acc = init;
    g.visit(p, [&](float v) { acc = combine(acc, v); });
    return finish(acc, g.count);
  });
}

// Accumulate in double: sums of many float32 terms lose digits otherwise.
Tensor sum_cpu(const Tensor& x, unsigned mask, bool keepdim) {
  return reduce_cpu(
      x, mask, keepdim, 0.0, [](double acc, float v) { return acc + v; },
      [](double acc, int64_t) { return static_cast<float>(acc); });
}

Tensor mean_cpu(const Tensor& x, unsigned mask, bool keepdim) {
  return reduce_cpu(
      x, mask, keepdim, 0.0, [](double acc, float v) { return acc + v; },
      [](double acc, int64_t n) { return static_cast<float>(acc / static_cast<double>(n)); });
}

// The kernels of x's device, without autograd.
Tensor sum_raw(const Tensor& x, unsigned mask, bool keepdim) {
  return x.device() == Device::CUDA
             ? reduce_cuda(ReduceKind::Sum, x, mask, reduced_shape(x.shape(), mask, keepdim))
             : sum_cpu(x, mask, keepdim);
}
Tensor mean_raw(const Tensor& x, unsigned mask, bool keepdim) {
  return x.device() == Device::CUDA
             ? reduce_cuda(ReduceKind::Mean, x, mask, reduced_shape(x.shape(), mask, keepdim))
             : mean_cpu(x, mask, keepdim);
}

// Number of elements each output of a reduction over `mask` combines.
int64_t reduced_count(const Shape& in, unsigned mask) {
  int64_t n = 1;
  for (int a = 0; a < in.ndim(); ++a)
    if (mask & (1u << a)) n *= in[a];
  return n;
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
  common_device("sum", {x});
  unsigned mask = axis_mask(axes, x.ndim(), "sum");
  Tensor out = sum_raw(x, mask, keepdim);
  if (needs_grad({x}))
    record(kSum, out, {x}, [in = x.shape(), mask](const Tensor& dout) {
      return std::vector<Tensor>{dout.reshape(reduced_shape(in, mask, true)).expand(in)};
    });
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  common_device("mean", {x});
  unsigned mask = axis_mask(axes, x.ndim(), "mean");
  Tensor out = mean_raw(x, mask, keepdim);
  if (needs_grad({x}))
    record(kMean, out, {x}, [in = x.shape(), mask](const Tensor& dout) {
      const float n = static_cast<float>(reduced_count(in, mask));
      return std::vector<Tensor>{(dout / n).reshape(reduced_shape(in, mask, true)).expand(in)};
    });
  return out;
}

Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  const Device device = common_device("max", {x});
  unsigned mask = axis_mask(axes, x.ndim(), "max");
  MD_CHECK(reduced_count(x.shape(), mask) > 0, "max: cannot reduce ", x.shape().str(),
           " over an empty axis (the maximum of no elements)");
  Tensor out;
  if (device == Device::CUDA) {
    out = reduce_cuda(ReduceKind::Max, x, mask, reduced_shape(x.shape(), mask, keepdim));
  } else {
    // `v != v` picks up a NaN, which then stays (no comparison with NaN is true).
    out = reduce_cpu(
        x, mask, keepdim, -INFINITY,
        [](float acc, float v) { return (v > acc || v != v) ? v : acc; },
        [](float acc, int64_t) { return acc; });
  }
  if (needs_grad({x}))
    record(kMax, out, {x}, [xd = x.detach(), yd = out.detach(), mask](const Tensor& dout) {
      const Shape keep = reduced_shape(xd.shape(), mask, true);
      // is_max[i] = 1 where x_i is the maximum of its reduced set (NaN counts as equal to a NaN
      // maximum), T = how many per set; every maximal element gets dout / T.
      Tensor is_max = xd.device() == Device::CUDA
                          ? max_mask_cuda(xd, yd.reshape(keep))
                          : map_binary_cpu(xd, yd.reshape(keep), xd.shape(), [](float v, float m) {
                              return (v == m || (v != v && m != m)) ? 1.0f : 0.0f;
                            });
      Tensor ties = sum_raw(is_max, mask, true);
      return std::vector<Tensor>{is_max * (dout.reshape(keep) / ties)};
    });
  return out;
}

Tensor var(const Tensor& x, const std::vector<int>& axes, bool keepdim, int64_t correction) {
  const Device device = common_device("var", {x});
  unsigned mask = axis_mask(axes, x.ndim(), "var");
  MD_CHECK(correction >= 0, "var: correction must be >= 0, got ", correction);
  // Divisor N - correction, clamped at 0 as in numpy (then the result is inf or NaN).
  const int64_t n = reduced_count(x.shape(), mask);
  const double dof = static_cast<double>(n > correction ? n - correction : 0);
  // Two passes in double: the mean, then the squared deviations from it. The one-pass
  // E[x^2] - E[x]^2 would cancel catastrophically when |mean| >> spread.
  Tensor out;
  if (device == Device::CUDA) {
    out = reduce_cuda(ReduceKind::Var, x, mask, reduced_shape(x.shape(), mask, keepdim), dof);
  } else {
    out = reduce_cpu(x, mask, keepdim, [dof](const float* p, const ReduceGeometry& g) {
      double s = 0.0;
      g.visit(p, [&](float v) { s += v; });
      const double m = s / static_cast<double>(g.count);
      double ss = 0.0;
      g.visit(p, [&](float v) {
        const double d = v - m;
        ss += d * d;
      });
      return static_cast<float>(ss / dof);
    });
  }
  if (needs_grad({x}))
    record(kVar, out, {x}, [xd = x.detach(), mask, dof](const Tensor& dout) {
      const Shape keep = reduced_shape(xd.shape(), mask, true);
      Tensor centered = xd - mean_raw(xd, mask, true);  // x - mean_keep, x's shape
      return std::vector<Tensor>{centered * (dout.reshape(keep) * static_cast<float>(2.0 / dof))};
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
