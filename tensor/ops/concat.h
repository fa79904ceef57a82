// Concatenation along one axis, and its inverses split and chunk.
//
// Shapes: every input has the same rank and the same extents except along `axis`, where x_k has
// extent N_k; the output has extent N = N_0 + N_1 + ... there. With o_k = N_0 + ... + N_{k-1}:
//   concat:   out[..., o_k + i, ...] = x_k[..., i, ...]          for 0 <= i < N_k
//   backward: dx_k = dout[..., o_k : o_k + N_k, ...]             (a slice view of dout)
// split and chunk return slice views of x (differentiable through the "slice" op), so
// concat(split(x, a, sizes), a) == x and the two are each other's backward.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

// Joins `xs` (at least one tensor) along `axis` (negative counts from the end) into a fresh
// contiguous tensor. Inputs may be any strided views.
Tensor concat(const std::vector<Tensor>& xs, int axis);

// Cuts x along `axis` into consecutive pieces of the given extents, which must be non-negative
// and sum to x.size(axis). Each piece is a view of x.
std::vector<Tensor> split(const Tensor& x, int axis, const std::vector<int64_t>& sizes);

// Cuts x along `axis` into n equal pieces; x.size(axis) must be divisible by n.
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int axis);

}  // namespace mindiff
