// CPU kernels for elementwise maps, shared by the unary and binary ops and their backward
// passes. Inputs may be any strided view; broadcasting follows numpy; outputs are contiguous.
// The per-element function is a lambda, inlined into the row loop (no per-element calls).
#pragma once
#include "tensor/strided.h"
#include "tensor/tensor.h"

namespace mindiff {

// out[i] = f(x[i])
template <class F>
Tensor map_unary_cpu(const Tensor& x, F f) {
  Tensor out = empty(x.shape());
  float* o = out.data();
  const float* a = x.data();
  std::array<Index4, 2> st{pad_shape4(out.strides()),
                           broadcast_strides4(x.shape(), x.strides(), x.shape())};
  for_each_row<2>(pad_shape4(x.shape()), st, [&](auto off, int64_t len, auto inc) {
    float* po = o + off[0];
    const float* pa = a + off[1];
    if (inc[1] == 1) {
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j]);
    } else {
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j * inc[1]]);
    }
  });
  return out;
}

// out[i] = f(a[i], b[i]) over the broadcast shape `shape` of a and b.
template <class F>
Tensor map_binary_cpu(const Tensor& a, const Tensor& b, const Shape& shape, F f) {
  Tensor out = empty(shape);
  float* o = out.data();
  const float* pa = a.data();
  const float* pb = b.data();
  std::array<Index4, 3> st{pad_shape4(out.strides()),
                           broadcast_strides4(a.shape(), a.strides(), shape),
                           broadcast_strides4(b.shape(), b.strides(), shape)};
  for_each_row<3>(pad_shape4(shape), st, [&](auto off, int64_t len, auto inc) {
    float* po = o + off[0];
    const float* ra = pa + off[1];
    const float* rb = pb + off[2];
    if (inc[1] == 1 && inc[2] == 1) {
      for (int64_t j = 0; j < len; ++j) po[j] = f(ra[j], rb[j]);
    } else if (inc[1] == 1 && inc[2] == 0) {  // row of a against a broadcast scalar of b
      const float vb = rb[0];
      for (int64_t j = 0; j < len; ++j) po[j] = f(ra[j], vb);
    } else {
      for (int64_t j = 0; j < len; ++j) po[j] = f(ra[j * inc[1]], rb[j * inc[2]]);
    }
  });
  return out;
}

// out[i] = f(a[i], b[i], c[i]) for three tensors of one shape (backward passes of unary ops).
template <class F>
Tensor map_ternary_cpu(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  const Shape& shape = a.shape();
  Tensor out = empty(shape);
  float* o = out.data();
  const float *pa = a.data(), *pb = b.data(), *pc = c.data();
  std::array<Index4, 4> st{pad_shape4(out.strides()),
                           broadcast_strides4(a.shape(), a.strides(), shape),
                           broadcast_strides4(b.shape(), b.strides(), shape),
                           broadcast_strides4(c.shape(), c.strides(), shape)};
  for_each_row<4>(pad_shape4(shape), st, [&](auto off, int64_t len, auto inc) {
    float* po = o + off[0];
    const float *ra = pa + off[1], *rb = pb + off[2], *rc = pc + off[3];
    if (inc[1] == 1 && inc[2] == 1 && inc[3] == 1) {  // unit strides: a loop the compiler vectorises
      for (int64_t j = 0; j < len; ++j) po[j] = f(ra[j], rb[j], rc[j]);
    } else {
      for (int64_t j = 0; j < len; ++j) po[j] = f(ra[j * inc[1]], rb[j * inc[2]], rc[j * inc[3]]);
    }
  });
  return out;
}

}  // namespace mindiff
