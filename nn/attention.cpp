#include "nn/attention.h"

#include <cmath>

namespace mindiff::nn {

Attention::Attention(int64_t channels, Generator& gen, int heads, int norm_groups)
    : num_heads(heads) {
  MD_CHECK(heads > 0 && channels % heads == 0, "Attention: ", channels,
           " channels cannot be split into ", heads, " heads");
  norm = register_module("norm", std::make_shared<GroupNorm>(norm_groups, channels));
  qkv = register_module("qkv", std::make_shared<Conv2d>(channels, 3 * channels, 1, gen));
  proj = register_module("proj", std::make_shared<Conv2d>(channels, channels, 1, gen));
}

Tensor Attention::forward(const Tensor& x) const {
  MD_CHECK(x.ndim() == 4, "Attention: input must be [B, C, H, W], got ", x.shape().str());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), T = H * W;
  const int64_t NH = num_heads, HS = C / NH;
  // [B, 3C, T] split along channels into q, k, v, each viewed as [B, NH, HS, T].
  std::vector<Tensor> parts = chunk(qkv->forward(norm->forward(x)).reshape({B, 3 * C, T}), 3, 1);
  Tensor q = parts[0].reshape({B, NH, HS, T});
  Tensor k = parts[1].reshape({B, NH, HS, T});
  Tensor v = parts[2].reshape({B, NH, HS, T});
  // Softmax over the keys of the scaled scores (tensor/ops/attention.h): [B, NH, HS, T(query)].
  Tensor out = attention(q, k, v, 1.0f / std::sqrt(static_cast<float>(HS)));
  return x + proj->forward(out.reshape({B, C, H, W}));
}

}  // namespace mindiff::nn
