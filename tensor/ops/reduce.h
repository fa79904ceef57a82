// Reductions over chosen axes. `axes` may be negative (from the end); an empty list means all
// axes. With keepdim the reduced axes stay as extent 1, otherwise they are removed. N below is
// the number of elements combined into one output element (the product of the reduced extents).
// All are differentiable; write y_keep / dout_keep for y / dout with the reduced axes kept as 1,
// broadcast back to x's shape:
//
//   sum:  y = sum_i x_i                 dx = dout_keep
//   mean: y = (1/N) sum_i x_i           dx = dout_keep / N
//   max:  y = max_i x_i                 dx = dout_keep * [x == y_keep] / T, where T is the
//         number of elements equal to the maximum (ties share the gradient equally, so it sums
//         to dout). A NaN anywhere in the reduced set makes y NaN.
//   var:  y = sum_i (x_i - mean)^2 / (N - correction)
//                                       dx = dout_keep * 2 (x - mean_keep) / (N - correction)
//         correction 0 gives the population variance, 1 the unbiased sample variance. As in
//         numpy/PyTorch, N - correction <= 0 divides by zero (NaN for a single element).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Values only (no indices). Reducing an empty axis is an error (a maximum of nothing).
Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Computed in two passes in double (mean first, then squared deviations), so a large common
// offset does not cancel the digits of a small spread. correction must be >= 0.
Tensor var(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false,
           int64_t correction = 0);

// The backward of broadcasting: sums `grad` over the axes along which a tensor of `shape` was
// broadcast to grad's shape (leading axes it lacked, and its extent-1 axes). Differentiable.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Shape of x reduced over `axes` (as a bitmask over x's axes) with or without keepdim.
Shape reduced_shape(const Shape& in, unsigned axis_mask, bool keepdim);
// Bitmask of the normalised axes (all axes when `axes` is empty). `op` names the caller.
unsigned axis_mask(const std::vector<int>& axes, int ndim, const char* op);

}  // namespace mindiff
