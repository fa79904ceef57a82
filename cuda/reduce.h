// CUDA launchers of the reductions (tensor/ops/reduce.cpp; formulas in reduce.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

enum class ReduceKind { Sum, Mean, Max, Var };

// x (CUDA, any strides) reduced over the axes in `mask` (bit a = axis a): sum, mean, max, or
// var = sum (x - mean)^2 / dof. out_shape is the caller's reduced_shape(x, mask, keepdim) (the
// reduced axes as extent 1 or dropped: the same elements in the same order either way).
Tensor reduce_cuda(ReduceKind kind, const Tensor& x, unsigned mask, const Shape& out_shape,
                   double dof = 1.0);

// 1 where x equals its maximum y_keep (broadcast over the reduced axes; NaN equals NaN), else 0:
// the mask of the maximal elements in max's backward.
Tensor max_mask_cuda(const Tensor& x, const Tensor& y_keep);

}  // namespace mindiff
