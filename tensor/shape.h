// Shape: up to four extents (rank 0 is a scalar). Strides use the same type, counted in elements.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "tensor/checked.h"
#include "tensor/error.h"

namespace mindiff {

constexpr int kMaxDims = 4;  // NCHW images and (batch, heads, tokens, head size) attention

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.data(), dims.data() + dims.size()); }

  int ndim() const { return n_; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }

  // The product of the extents; an Error when it does not fit in int64_t (extents read from a
  // file or a config can be anything).
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_; ++i)
      MD_CHECK(checked_mul(n, d_[i], n), "shape ", str(), " has more elements than fit in 64 bits");
    return n;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }

  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  // "[2, 3, 4]"
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < n_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
    return s + "]";
  }

 private:
  template <class It>
  void assign(It first, It last) {
    MD_CHECK(last - first <= kMaxDims, "shape of rank ", last - first, " exceeds the maximum rank ",
             kMaxDims);
    n_ = static_cast<int>(last - first);
    for (int i = 0; i < n_; ++i) d_[i] = first[i];
  }
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Row-major strides of a contiguous tensor of this shape.
inline Shape contiguous_strides(const Shape& shape) {
  (void)shape.numel();  // an Error for extents whose product overflows, before a stride does
  Shape st = shape;
  int64_t s = 1;
  for (int i = shape.ndim() - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

// Maps a possibly negative axis (-1 = last) into [0, ndim); `op` names the caller for the error.
inline int normalize_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  MD_CHECK(a >= 0 && a < ndim, op, ": axis ", axis, " out of range for rank ", ndim);
  return a;
}

// Numpy broadcasting: align trailing dims; each pair must be equal or contain a 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = a.ndim() > b.ndim() ? a.ndim() : b.ndim();
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.ndim() - n + i, ib = b.ndim() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    MD_CHECK(da == db || da == 1 || db == 1, op, ": cannot broadcast shapes ", a.str(), " and ",
             b.str());
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

}  // namespace mindiff
