// Softmax and log-softmax (formulas in softmax.h). One dedicated kernel per direction that walks
// the rows along `axis`: a tensor of shape S has S.numel() / S[axis] rows of K = S[axis]
// elements, row r starting at the offset of its index over the other axes and stepping by the
// axis stride (1 for the last axis of a contiguous tensor, the product of the later extents
// otherwise). Rows are independent and shared among threads with a static schedule; each row
// is reduced by one thread in a fixed order, so results do not depend on the thread count.
#include "tensor/ops/softmax.h"

#include <cmath>

#include "cuda/softmax.h"
#include "tensor/ops/common.h"
#include "tensor/strided.h"

namespace mindiff {

namespace {

const OpInfo kSoftmax("softmax"), kLogSoftmax("log_softmax");

constexpr int64_t kSerialBelow = 32768;  // elements; below this one thread is faster

// Rows of a rank<=4 shape along one axis, in padded rank-4 form.
struct RowGeometry {
  Index4 kn;         // extents with the axis set to 1: one index per row
  int pa;            // the axis in padded coordinates
  int64_t rows;      // product of kn
  int64_t len;       // K, the extent along the axis

  RowGeometry(const Shape& s, int axis) : kn(pad_shape4(s)), pa(kMaxDims - s.ndim() + axis) {
    len = kn[pa];
    kn[pa] = 1;
    rows = kn[0] * kn[1] * kn[2] * kn[3];
  }

  // Offset of row r's first element in a tensor with padded strides st.
  int64_t offset(int64_t r, const Index4& st) const {
    int64_t off = 0;
    for (int a = kMaxDims - 1; a >= 0; --a) {
      off += (r % kn[a]) * st[a];
      r /= kn[a];
    }
    return off;
  }
};

Index4 strides4(const Tensor& t) { return broadcast_strides4(t.shape(), t.strides(), t.shape()); }

// y = softmax(x) or log_softmax(x) along `axis` (normalised), y fresh and contiguous.
template <bool kLog>
Tensor softmax_forward_cpu(const Tensor& x, int axis) {
  Tensor y = empty(x.shape());
  const RowGeometry g(x.shape(), axis);
  const Index4 sx = strides4(x), sy = strides4(y);
  const int64_t ix = sx[g.pa], iy = sy[g.pa], len = g.len;
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (g.rows > 1 && x.numel() >= kSerialBelow)
  for (int64_t r = 0; r < g.rows; ++r) {
    const float* px = xp + g.offset(r, sx);
    float* py = yp + g.offset(r, sy);
    // m = row maximum; a NaN becomes the maximum, so it spreads to the whole row.
    float m = -INFINITY;
    for (int64_t j = 0; j < len; ++j) {
      const float v = px[j * ix];
      m = (v > m || v != v) ? v : m;
    }
    // s = sum exp(x - m) >= 1 (the maximal term is exp(0)); summed in double.
    double s = 0.0;
    if constexpr (kLog) {
      for (int64_t j = 0; j < len; ++j) s += std::exp(px[j * ix] - m);
      const float log_s = static_cast<float>(std::log(s));
      for (int64_t j = 0; j < len; ++j) py[j * iy] = (px[j * ix] - m) - log_s;
    } else {
      for (int64_t j = 0; j < len; ++j) {
        const float e = std::exp(px[j * ix] - m);
        py[j * iy] = e;
        s += e;
      }
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t j = 0; j < len; ++j) py[j * iy] *= inv;
    }
  }
  return y;
}

// dx from the saved output y (contiguous) and dout (any strides, possibly broadcast):
//   softmax:     dx_j = y_j * (dout_j - sum_k dout_k y_k)
//   log_softmax: dx_j = dout_j - exp(y_j) * sum_k dout_k
template <bool kLog>
Tensor softmax_backward_cpu(const Tensor& y, const Tensor& dout, int axis) {
  Tensor dx = empty(y.shape());
  const RowGeometry g(y.shape(), axis);
  const Index4 sy = strides4(y), sd = strides4(dout), sx = strides4(dx);
  const int64_t iy = sy[g.pa], id = sd[g.pa], ix = sx[g.pa], len = g.len;
  const float* yp = y.data();
  const float* dp = dout.data();
  float* xp = dx.data();
#pragma omp parallel for schedule(static) if (g.rows > 1 && y.numel() >= kSerialBelow)
  for (int64_t r = 0; r < g.rows; ++r) {
    const float* py = yp + g.offset(r, sy);
    const float* pd = dp + g.offset(r, sd);
    float* px = xp + g.offset(r, sx);
    double dot = 0.0;  // softmax: sum dout_k y_k; log_softmax: sum dout_k
    for (int64_t j = 0; j < len; ++j) dot += kLog ? pd[j * id] : pd[j * id] * py[j * iy];
    const float c = static_cast<float>(dot);
    for (int64_t j = 0; j < len; ++j) {
      if constexpr (kLog)
        px[j * ix] = pd[j * id] - std::exp(py[j * iy]) * c;
      else
        px[j * ix] = py[j * iy] * (pd[j * id] - c);
    }
  }
  return dx;
}

template <bool kLog>
Tensor softmax_op(const OpInfo& op, const Tensor& x, int axis) {
  const Device device = common_device(op.name, {x});
  const int a = normalize_axis(axis, x.ndim(), op.name);
  Tensor y = device == Device::CUDA ? softmax_cuda(x, a, kLog) : softmax_forward_cpu<kLog>(x, a);
  if (needs_grad({x}))
    record(op, y, {x}, [yd = y.detach(), a](const Tensor& dout) {
      if (dout.device() == Device::CUDA)
        return std::vector<Tensor>{softmax_backward_cuda(yd, dout, a, kLog)};
      return std::vector<Tensor>{softmax_backward_cpu<kLog>(yd, dout, a)};
    });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_op<false>(kSoftmax, x, axis); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_op<true>(kLogSoftmax, x, axis); }

}  // namespace mindiff
