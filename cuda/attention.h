// CUDA launchers of the fused softmax attention (tensor/ops/attention.h: formulas and shapes).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

// The largest head size the fused kernels take (their tiles of q, k, v live in shared memory);
// attention() composes matmul and softmax on the device above it.
constexpr int64_t kFusedAttentionMaxHeadSize = 128;

// out [B, NH, HS, T] and the log-sum-exp of every query's scores, lse [B, NH, T], from
// contiguous q, k, v [B, NH, HS, T].
void attention_forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                            Tensor& out, Tensor& lse);
// dq, dk, dv from dout and what the forward kept (all contiguous, [B, NH, HS, T]; lse [B, NH, T]).
void attention_backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                             const Tensor& out, const Tensor& lse, const Tensor& dout, Tensor& dq,
                             Tensor& dk, Tensor& dv);

}  // namespace mindiff
