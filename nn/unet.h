// The DDPM-style U-Net (Ho et al. 2020), as specified in docs/unet.md. Parameter names and order
// follow its PyTorch twin, so the `small` and `cifar` presets have exactly the reference parameter
// counts (1,623,169 and 8,952,067) and weights map one to one.
//
//   temb = Linear(4b, 4b)(SiLU(Linear(b, 4b)(sinusoidal(t, b))))  [+ class embedding]
//   conv_in 3x3 -> down path (ResBlocks [+ Attention], Downsample between levels; every output
//   kept as a skip) -> middle (ResBlock, Attention, ResBlock) -> up path (ResBlocks on
//   concat(h, skip) [+ Attention], Upsample between levels) -> GN, SiLU, conv_out 3x3.
#pragma once
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/resblock.h"

namespace mindiff::nn {

struct UNetConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t base = 32;                     // b: channels at the first level
  std::vector<int64_t> mults{1, 2, 2};   // level i has b * mults[i] channels
  int64_t blocks = 2;                    // ResBlocks per level on the way down
  std::vector<int64_t> attn_res{7};      // resolutions with attention after each ResBlock
  int64_t heads = 1;
  float dropout = 0.0f;
  int64_t num_classes = 0;               // > 0: class-conditional (with a no-class token)
  int64_t norm_groups = 8;

  static UNetConfig preset(const std::string& name);  // "small", "cifar", "tiny"
  // One line of "key=value" pairs, e.g. "unet in=1 size=28 base=32 mult=1,2,2 blocks=2 attn=7
  // heads=1 dropout=0 classes=0 groups=8"; parse() reads what to_string() writes, a key left out
  // keeping its default above and an unknown key refused (nn/config_text.h), and validates it
  // (a checkpoint stores this line so it alone rebuilds the network).
  std::string to_string() const;
  static UNetConfig parse(const std::string& text);
  void validate() const;
};

class UNet : public Module {
 public:
  UNet(const UNetConfig& config, Generator& gen);

  // x [B, C, S, S], t [B] (float timesteps or noise levels, as the diffusion code defines them),
  // labels: B class indices or ClassEmbedding::kNoClass (empty for an unconditional model).
  // gen feeds dropout in training mode (may be null otherwise). Returns [B, C, S, S].
  Tensor forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels = {},
                 Generator* gen = nullptr) const;

  const UNetConfig& config() const { return config_; }

 private:
  // One entry of the down or up path: a ResBlock with optional Attention, or a resampling.
  struct Block : public Module {
    std::shared_ptr<ResBlock> res;
    std::shared_ptr<Attention> attn;
    std::shared_ptr<Downsample> down;
    std::shared_ptr<Upsample> up;
    void add_res(std::shared_ptr<ResBlock> r) { res = register_module("res", std::move(r)); }
    void add_attn(std::shared_ptr<Attention> a) { attn = register_module("attn", std::move(a)); }
    void add_down(std::shared_ptr<Downsample> d) { down = register_module("down", std::move(d)); }
    void add_up(std::shared_ptr<Upsample> u) { up = register_module("up", std::move(u)); }
  };

  UNetConfig config_;
  std::shared_ptr<Linear> temb_fc1_, temb_fc2_;
  std::shared_ptr<ClassEmbedding> class_emb_;
  std::shared_ptr<Conv2d> conv_in_, conv_out_;
  std::shared_ptr<ModuleList> down_, up_;
  std::vector<std::shared_ptr<Block>> down_blocks_, up_blocks_;
  std::shared_ptr<ResBlock> mid1_, mid2_;
  std::shared_ptr<Attention> mid_attn_;
  std::shared_ptr<GroupNorm> norm_out_;
};

}  // namespace mindiff::nn
