// Self-attention over the H*W positions of a feature map (DDPM's AttnBlock), single or multi-head.
//
// Shapes: x [B, C, H, W], T = H * W tokens, NH heads of HS = C / NH channels.
//   h = GroupNorm(x);  q, k, v = split(conv1x1_{C -> 3C}(h)), each [B, NH, HS, T]
//   w = softmax(q^T k / sqrt(HS)) over the key axis      [B, NH, T(query), T(key)]
//   out = v w^T                                          [B, NH, HS, T(query)]
//   return x + conv1x1_{C -> C}(out reshaped to [B, C, H, W])
// With one head this is exactly the reference U-Net's attention (docs/unet.md).
#pragma once
#include "nn/layers.h"

namespace mindiff::nn {

class Attention : public Module {
 public:
  Attention(int64_t channels, Generator& gen, int num_heads = 1, int norm_groups = 8);
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<GroupNorm> norm;
  std::shared_ptr<Conv2d> qkv, proj;
  int num_heads;
};

}  // namespace mindiff::nn
