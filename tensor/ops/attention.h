// Softmax attention over positions, in the channels-first layout of the U-Net's attention block
// (nn/attention.h). For each image b and head h, with q_i, k_j, v_j the HS-vectors at positions
// i and j of q, k, v [B, NH, HS, T]:
//
//   s_ij = scale q_i . k_j,   p_ij = exp(s_ij) / sum_j' exp(s_ij')   (softmax over the keys j)
//   out[b, h, :, i] = sum_j p_ij v_j                                    out [B, NH, HS, T]
//   dv_j = sum_i p_ij dout_i,   ds_ij = p_ij (dout_i . v_j - dout_i . out_i)
//   dq_i = scale sum_j ds_ij k_j,   dk_j = scale sum_i ds_ij q_i
//
// On the CPU it is the composition matmul, scale, softmax, matmul (and their derivatives). On the
// CUDA device, for head sizes up to kFusedAttentionMaxHeadSize, it is one fused kernel forward
// and two backward (cuda/attention.cu) that keep the [T, T] scores in shared memory, never in
// global memory; larger heads compose as on the CPU.
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale);

}  // namespace mindiff
