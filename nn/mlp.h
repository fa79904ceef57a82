// A time-conditioned MLP for 2-D (or any low-dimensional) toy data: the network that learns a
// noise prediction or score on toy sets, where a U-Net would be out of place.
//
//   temb = SiLU(Linear(E -> H)(sinusoidal(t, E)))        [B, H]
//   h = Linear(D -> H)(x) + temb
//   repeat L times: h = h + Linear(H -> H)(SiLU(h)) + temb_l     (residual, temb_l = Linear(H, H)(temb))
//   out = Linear(H -> D)(SiLU(h))                           [B, D]
#pragma once
#include <string>

#include "nn/embedding.h"
#include "nn/layers.h"

namespace mindiff::nn {

struct MLPConfig {
  int64_t dim = 2;       // D: data dimension
  int64_t hidden = 128;  // H
  int64_t layers = 3;    // L residual layers
  int64_t temb = 32;     // E: sinusoidal embedding size
  int64_t num_classes = 0;
  std::string to_string() const;  // "mlp dim=2 hidden=128 layers=3 temb=32 classes=0"
  static MLPConfig parse(const std::string& text);
  void validate() const;
};

class ScoreMLP : public Module {
 public:
  ScoreMLP(const MLPConfig& config, Generator& gen);
  // x [B, D], t [B]; labels as for the U-Net (empty when unconditional).
  Tensor forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels = {}) const;
  const MLPConfig& config() const { return config_; }

 private:
  MLPConfig config_;
  std::shared_ptr<Linear> temb_fc_, in_, out_;
  std::shared_ptr<ClassEmbedding> class_emb_;
  std::shared_ptr<ModuleList> layers_, temb_layers_;
  std::vector<std::shared_ptr<Linear>> hidden_, temb_proj_;
};

}  // namespace mindiff::nn
