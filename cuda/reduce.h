// CUDA launchers of the reductions (tensor/ops/reduce.cpp; formulas in reduce.h).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

enum class ReduceKind { Sum, Mean, Max, Var };

// x (CUDA, any strides) reduced over the axes in `mask` (bit a = axis a): sum, mean, max, or
// var = sum (x - mean)^2 / dof. With keepdim the reduced axes stay as extent 1.
Tensor reduce_cuda(ReduceKind kind, const Tensor& x, unsigned mask, bool keepdim, double dof = 1.0);

// 1 where x equals its maximum y_keep (broadcast over the reduced axes; NaN equals NaN), else 0:
// the mask of the maximal elements in max's backward.
Tensor max_mask_cuda(const Tensor& x, const Tensor& y_keep);

}  // namespace mindiff
