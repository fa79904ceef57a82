// The U-Net's building blocks: a residual block conditioned on the time embedding, and the
// resolution changes. Shapes: x [B, C, H, W], temb [B, TD].
//
// ResBlock(in -> out):
//   h = conv3x3(SiLU(GN(x)))
//   h = h + Linear_{TD -> out}(SiLU(temb)) broadcast over H, W
//   h = conv3x3(dropout(SiLU(GN(h))))
//   return h + (x if in == out else conv1x1(x))
// Downsample: conv3x3 with stride 2 (H -> H/2). Upsample: nearest x2, then conv3x3.
#pragma once
#include "nn/layers.h"

namespace mindiff::nn {

class ResBlock : public Module {
 public:
  ResBlock(int64_t in_channels, int64_t out_channels, int64_t temb_dim, Generator& gen,
           float dropout = 0.0f, int norm_groups = 8);
  // gen feeds dropout; it may be null when dropout is 0 or in evaluation mode.
  Tensor forward(const Tensor& x, const Tensor& temb, Generator* gen) const;
  std::shared_ptr<GroupNorm> norm1, norm2;
  std::shared_ptr<Conv2d> conv1, conv2, skip;  // skip is null when in == out
  std::shared_ptr<Linear> temb;
  std::shared_ptr<Dropout> drop;
};

class Downsample : public Module {
 public:
  Downsample(int64_t channels, Generator& gen);
  Tensor forward(const Tensor& x) const { return conv->forward(x); }
  std::shared_ptr<Conv2d> conv;
};

class Upsample : public Module {
 public:
  Upsample(int64_t channels, Generator& gen);
  Tensor forward(const Tensor& x) const { return conv->forward(upsample_nearest2d(x, 2)); }
  std::shared_ptr<Conv2d> conv;
};

}  // namespace mindiff::nn
