// Reductions over chosen axes. `axes` may be negative (from the end); an empty list means all
// axes. With keepdim the reduced axes stay as extent 1, otherwise they are removed.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);

// The backward of broadcasting: sums `grad` over the axes along which a tensor of `shape` was
// broadcast to grad's shape (leading axes it lacked, and its extent-1 axes). Differentiable.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Shape of x reduced over `axes` (as a bitmask over x's axes) with or without keepdim.
Shape reduced_shape(const Shape& in, unsigned axis_mask, bool keepdim);
// Bitmask of the normalised axes (all axes when `axes` is empty). `op` names the caller.
unsigned axis_mask(const std::vector<int>& axes, int ndim, const char* op);

}  // namespace mindiff
