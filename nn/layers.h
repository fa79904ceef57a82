// Basic layers: Linear, Conv2d, GroupNorm, LayerNorm, Dropout. Each owns its parameters with
// PyTorch's names and layouts (weight [out, in] for Linear, [O, C, KH, KW] for Conv2d), so
// weights map one to one onto a PyTorch twin. They are compositions of ops and need no backward.
//
// Initialisation (PyTorch's default for Linear and Conv2d): weight and bias uniform in
// +-1/sqrt(fan_in), fan_in = in_features or C * KH * KW. GroupNorm/LayerNorm: weight 1, bias 0.
#pragma once
#include "nn/module.h"
#include "tensor/ops.h"

namespace mindiff::nn {

// U(-bound, bound) of the given shape, drawn from gen.
Tensor uniform_init(const Shape& shape, float bound, Generator& gen);

// y = x W^T + b;  x [..., in] -> y [..., out]
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;  // [out, in], [out] (bias undefined when disabled)
  int64_t in_features, out_features;
};

// y = conv2d(x, W, b);  x [B, C, H, W] -> [B, O, HO, WO]
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int kernel, Generator& gen, int stride = 1,
         int padding = 0, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;  // [O, C, K, K], [O]
  int stride, padding;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int num_groups, int64_t channels, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const;  // x [B, C, ...]
  // silu(forward(x)) as one fused op (group_norm_silu): one pass over memory, and the normalised
  // tensor is never stored for backward.
  Tensor forward_silu(const Tensor& x) const;
  Tensor weight, bias;                    // [C]
  int num_groups;
  float eps;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t features, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const;  // normalises the last axis
  Tensor weight, bias;                    // [features]
  float eps;
};

// Inverted dropout with probability p; active only in training mode. The mask comes from `gen`,
// so a run that restores the generator state reproduces it.
class Dropout : public Module {
 public:
  explicit Dropout(float p) : p(p) {}
  Tensor forward(const Tensor& x, Generator& gen) const;
  float p;
};

}  // namespace mindiff::nn
