// attention (formulas, derivatives and shapes in attention.h).
#include "tensor/ops/attention.h"

#include "cuda/attention.h"
#include "tensor/ops/common.h"
#include "tensor/ops/matmul.h"
#include "tensor/ops/softmax.h"
#include "tensor/ops/unary.h"

namespace mindiff {

namespace {

const OpInfo kAttention("attention");

Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  Tensor w = matmul(q.transpose(-1, -2), k) * scale;  // [B, NH, T(query), T(key)]
  w = softmax(w, -1);
  return matmul(v, w.transpose(-1, -2));              // [B, NH, HS, T(query)]
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  const Device device = common_device("attention", {q, k, v});
  MD_CHECK(q.ndim() == 4 && k.shape() == q.shape() && v.shape() == q.shape(),
           "attention: q, k and v must share one shape [B, NH, HS, T], got ", q.shape().str(), ", ",
           k.shape().str(), " and ", v.shape().str());
  if (device == Device::CPU || q.size(2) > kFusedAttentionMaxHeadSize) return composed(q, k, v, scale);
  const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
  Tensor out, lse;
  attention_forward_cuda(qc, kc, vc, scale, out, lse);
  if (needs_grad({q, k, v}))
    record(kAttention, out, {q, k, v},
           [qc, kc, vc, scale, saved = out.detach(), lse](const Tensor& dout) {
             Tensor dq, dk, dv;
             attention_backward_cuda(qc, kc, vc, scale, saved, lse, dout.detach().contiguous(), dq,
                                     dk, dv);
             return std::vector<Tensor>{dq, dk, dv};
           });
  return out;
}

}  // namespace mindiff
