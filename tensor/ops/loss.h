// Losses: scalar (rank-0) tensors averaged over their elements or over the batch.
//
//   mse_loss(pred, target), both of one shape with N elements:
//     L = (1/N) sum_i (pred_i - target_i)^2
//     dpred = dout * 2 (pred - target) / N,   dtarget = -dpred
//
//   cross_entropy(logits, targets), logits [B, K] (B examples, K classes), targets B class
//   indices t_b in [0, K):
//     L = (1/B) sum_b -log_softmax(logits)_{b, t_b} = (1/B) sum_b (lse_b - logits_{b, t_b}),
//     lse_b = m_b + log sum_k exp(logits_{b, k} - m_b),   m_b = max_k logits_{b, k}
//     dlogits_{b, k} = dout * (softmax(logits)_{b, k} - [k == t_b]) / B
//   Subtracting m_b keeps it finite for logits of any magnitude ({1e4, -1e4} gives 0 or 2e4).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& targets);

}  // namespace mindiff
