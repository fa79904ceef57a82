// concat, split and chunk (formulas and shapes in concat.h).
#include "tensor/ops/concat.h"

#include "tensor/ops/common.h"

namespace mindiff {

namespace {

const OpInfo kConcat("concat");

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  MD_CHECK(!xs.empty(), "concat: no tensors to concatenate");
  for (const Tensor& x : xs) {
    MD_CHECK(x.defined(), "concat: undefined tensor in the input list");
    common_device("concat", {xs[0], x});
  }
  const Shape& first = xs[0].shape();
  MD_CHECK(first.ndim() > 0, "concat: cannot concatenate scalars (shape ", first.str(), ")");
  const int a = normalize_axis(axis, first.ndim(), "concat");
  // Output extent along the axis; every other extent must match the first input's.
  Shape out_shape = first;
  out_shape[a] = 0;
  for (const Tensor& x : xs) {
    const Shape& s = x.shape();
    bool same = s.ndim() == first.ndim();
    for (int d = 0; same && d < s.ndim(); ++d) same = d == a || s[d] == first[d];
    MD_CHECK(same, "concat: along axis ", axis, " all other extents must match, but shapes ",
             first.str(), " and ", s.str(), " differ");
    out_shape[a] += s[a];
  }

  // Forward: each input is copied into its slab of the output. copy_ walks any strides (the
  // threaded strided row loop), so non-contiguous inputs need no separate contiguous() copy.
  Tensor out = empty(out_shape, xs[0].device());  // copy_ below runs on that device
  std::vector<int64_t> starts;  // o_k
  int64_t o = 0;
  for (const Tensor& x : xs) {
    starts.push_back(o);
    const int64_t n = x.shape()[a];
    out.slice(a, o, o + n).copy_(x.detach());  // out needs no grad: the slice records nothing
    o += n;
  }

  if (needs_grad(xs))
    record(kConcat, out, xs, [a, starts, out_shape](const Tensor& dout) {
      std::vector<Tensor> dxs;
      for (size_t k = 0; k < starts.size(); ++k) {
        const int64_t end = k + 1 < starts.size() ? starts[k + 1] : out_shape[a];
        dxs.push_back(dout.slice(a, starts[k], end));
      }
      return dxs;
    });
  return out;
}

std::vector<Tensor> split(const Tensor& x, int axis, const std::vector<int64_t>& sizes) {
  const int a = normalize_axis(axis, x.ndim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    MD_CHECK(s >= 0, "split: negative piece size ", s);
    total += s;
  }
  MD_CHECK(total == x.shape()[a], "split: piece sizes sum to ", total, " but x of shape ",
           x.shape().str(), " has extent ", x.shape()[a], " along axis ", axis);
  std::vector<Tensor> pieces;
  int64_t o = 0;
  for (int64_t s : sizes) {
    pieces.push_back(x.slice(a, o, o + s));
    o += s;
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t n, int axis) {
  const int a = normalize_axis(axis, x.ndim(), "chunk");
  MD_CHECK(n >= 1, "chunk: number of chunks must be at least 1, got ", n);
  MD_CHECK(x.shape()[a] % n == 0, "chunk: extent ", x.shape()[a], " of axis ", axis, " of x ",
           x.shape().str(), " is not divisible into ", n, " chunks");
  return split(x, axis, std::vector<int64_t>(static_cast<size_t>(n), x.shape()[a] / n));
}

}  // namespace mindiff
