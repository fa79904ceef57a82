// Softmax and log-softmax along one axis (negative counts from the end), for any shape of
// rank <= 4 and any strides. Along the axis, with the row x_1..x_K and m = max_k x_k:
//
//   softmax:     y_j = exp(x_j - m) / sum_k exp(x_k - m)
//                dx_j = y_j * (dout_j - sum_k dout_k y_k)
//   log_softmax: y_j = x_j - m - log(sum_k exp(x_k - m))
//                dx_j = dout_j - softmax(x)_j * sum_k dout_k,   with softmax(x)_j = exp(y_j)
//
// Subtracting m is exact algebra (it cancels) and keeps every exp argument <= 0, so inputs of
// any magnitude (1e4, -1e4) give finite results. The output has x's shape, contiguous.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

}  // namespace mindiff
