// CUDA launcher of the batched matrix product (tensor/ops/matmul.cpp; shapes and derivative in
// matmul.h), with the kernel versions of cuda/matmul.cu selectable for tests and benchmarks.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

enum class MatmulKernel {
  Naive,            // v1: one thread per output, operands read from global memory
  Tiled,            // v2: 16 x 16 tiles staged in shared memory
  RegisterBlocked,  // v3: 64 x 64 tiles, each thread computes a 4 x 4 block of outputs
  Pipelined,        // v4: 128 x 128 tiles, 8 x 8 per thread, vector loads, double buffering
  TensorCoreTF32,   // v5: v4's tiles on TF32 tensor cores (inputs rounded to 10 mantissa bits)
};

// out[..., M, N] = a[..., M, K] @ b[..., K, N] for CUDA tensors of any strides (transposed views
// are read in place); `out_shape` is the validated result shape, whose batch axes (up to two)
// a's and b's batch axes broadcast to.
// The version products use unless told otherwise: v3 in FP32 (the fastest FP32 rung measured so
// far), v5 when cuda_precision() is TF32 (tensor/precision.h).
MatmulKernel default_matmul_kernel();

Tensor matmul_cuda(const Tensor& a, const Tensor& b, const Shape& out_shape,
                   MatmulKernel kernel = default_matmul_kernel());

}  // namespace mindiff
