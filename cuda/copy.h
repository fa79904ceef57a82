// CUDA kernels of the tensor core: fill_, copy_ (and so contiguous()), and the gradient
// accumulation of backward(). All tensors on the CUDA device; any strides.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

void fill_cuda(const Tensor& dst, float value);
// dst = src, src broadcast to dst's shape. dst and src must not overlap (Tensor::copy_ sees to it).
void copy_cuda(const Tensor& dst, const Tensor& src);
// dst += src, src broadcast to dst's shape.
void add_into_cuda(const Tensor& dst, const Tensor& src);

}  // namespace mindiff
