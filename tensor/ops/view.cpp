// View ops: new shape/strides/offset over the same storage, so writes through a view are seen
// by its base. Backward of each maps dout back to the input's geometry:
//   reshape:   dx = reshape(dout, x.shape)
//   permute:   dx = permute(dout, inverse permutation)
//   slice:     dx = zeros(x.shape) with dout written into the sliced positions
//   expand:    dx = sum_to(dout, x.shape)   (the broadcast axes are summed)
//   contiguous: dx = dout
#include <numeric>

#include "tensor/ops/common.h"
#include "tensor/ops/reduce.h"

namespace mindiff {

namespace {

const OpInfo kReshape("reshape"), kPermute("permute"), kSlice("slice"), kExpand("expand"),
    kContiguous("contiguous");

// Resolves one -1 extent from the element count.
Shape infer_shape(const Shape& requested, int64_t numel, const Shape& from) {
  Shape s = requested;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.ndim(); ++i) {
    if (s[i] == -1) {
      MD_CHECK(infer < 0, "reshape: more than one -1 in ", requested.str());
      infer = i;
    } else {
      MD_CHECK(s[i] >= 0, "reshape: negative extent in ", requested.str());
      known *= s[i];
    }
  }
  if (infer >= 0) {
    MD_CHECK(known != 0 && numel % known == 0, "reshape: cannot reshape ", from.str(), " into ",
             requested.str());
    s[infer] = numel / known;
  }
  MD_CHECK(s.numel() == numel, "reshape: cannot reshape ", from.str(), " (", numel,
           " elements) into ", requested.str(), " (", s.numel(), " elements)");
  return s;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), this->shape());
  MD_CHECK(is_contiguous(), "view: tensor of shape ", this->shape().str(), " with strides ",
           strides().str(), " is not contiguous; use reshape() or contiguous()");
  Tensor out = as_strided(*this, s, contiguous_strides(s), offset());
  if (needs_grad({*this}))
    record(kReshape, out, {*this}, [in = this->shape()](const Tensor& dout) {
      return std::vector<Tensor>{dout.reshape(in)};
    });
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::permute(const std::vector<int>& axes) const {
  MD_CHECK(static_cast<int>(axes.size()) == ndim(), "permute: ", axes.size(),
           " axes given for a tensor of shape ", shape().str());
  Shape s = shape(), st = strides();
  std::vector<int> inverse(axes.size(), -1);
  for (int i = 0; i < ndim(); ++i) {
    int a = normalize_axis(axes[i], ndim(), "permute");
    MD_CHECK(inverse[a] < 0, "permute: axis ", axes[i], " repeated");
    inverse[a] = i;
    s[i] = shape()[a];
    st[i] = strides()[a];
  }
  Tensor out = as_strided(*this, s, st, offset());
  if (needs_grad({*this}))
    record(kPermute, out, {*this}, [inverse](const Tensor& dout) {
      return std::vector<Tensor>{dout.permute(inverse)};
    });
  return out;
}

Tensor Tensor::transpose(int a, int b) const {
  std::vector<int> axes(static_cast<size_t>(ndim()));
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[normalize_axis(a, ndim(), "transpose")], axes[normalize_axis(b, ndim(), "transpose")]);
  return permute(axes);
}

Tensor Tensor::slice(int axis, int64_t start, int64_t end, int64_t step) const {
  int a = normalize_axis(axis, ndim(), "slice");
  int64_t n = shape()[a];
  MD_CHECK(step > 0, "slice: step must be positive, got ", step);
  // Python-style: negative positions count from the end; the range is clipped to [0, n].
  auto clip = [n](int64_t p) {
    if (p < 0) p += n;
    return p < 0 ? 0 : (p > n ? n : p);
  };
  int64_t b = clip(start), e = clip(end);
  int64_t len = e > b ? (e - b + step - 1) / step : 0;
  Shape s = shape(), st = strides();
  s[a] = len;
  st[a] = strides()[a] * step;
  Tensor out = as_strided(*this, s, st, offset() + (len > 0 ? b * strides()[a] : 0));
  if (needs_grad({*this}))
    record(kSlice, out, {*this}, [in = shape(), a, b, e, step](const Tensor& dout) {
      Tensor dx = zeros(in, dout.device());
      dx.slice(a, b, e, step).copy_(dout);
      return std::vector<Tensor>{dx};
    });
  return out;
}

Tensor Tensor::expand(const Shape& target) const {
  Shape b = broadcast_shapes(shape(), target, "expand");
  MD_CHECK(b == target, "expand: shape ", shape().str(), " cannot be expanded to ", target.str());
  Shape st = target;
  int lead = target.ndim() - ndim();
  for (int i = 0; i < target.ndim(); ++i) {
    int j = i - lead;
    st[i] = (j < 0 || shape()[j] == 1) ? 0 : strides()[j];
  }
  Tensor out = as_strided(*this, target, st, offset());
  if (needs_grad({*this}))
    record(kExpand, out, {*this}, [in = shape()](const Tensor& dout) {
      return std::vector<Tensor>{sum_to(dout, in)};
    });
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), device());
  out.copy_(detach());
  if (needs_grad({*this}))
    record(kContiguous, out, {*this},
           [](const Tensor& dout) { return std::vector<Tensor>{dout}; });
  return out;
}

}  // namespace mindiff
