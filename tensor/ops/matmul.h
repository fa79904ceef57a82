// Batched matrix product with numpy broadcasting of the batch axes.
//
// Shapes: a [..., M, K], b [..., K, N] -> out [..., M, N], each of rank 2 to 4. The batch axes
// (all but the last two) broadcast as in elementwise ops: [B, T, C] @ [C, D] shares one D x C
// weight among all B matrices, [B, 1, T, HS] @ [1, NH, HS, T] pairs every b with every head.
//
//   out[..., m, n] = sum_k a[..., m, k] * b[..., k, n]
//
// Derivative: d out[m, n] / d a[m, k] = b[k, n] and d out[m, n] / d b[k, n] = a[m, k], so
//   da = dout @ b^T   and   db = a^T @ dout,
// each summed over the batch axes along which its input was broadcast (sum_to).
//
// Inputs may be any views: a transposed view (unit stride along rows instead of columns) is
// multiplied in place through the transpose flags of sgemm; other layouts are copied first.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace mindiff
