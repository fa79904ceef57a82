// A small CNN classifier for 28x28 grayscale images (Fashion-MNIST, MNIST). It measures sample
// quality: its penultimate features feed a Frechet distance, its predictions a class histogram.
//
//   x [B, 1, 28, 28]
//   -> conv3x3(1 -> 32) -> GN -> SiLU -> avg_pool 2     [B, 32, 14, 14]
//   -> conv3x3(32 -> 64) -> GN -> SiLU -> avg_pool 2    [B, 64, 7, 7]
//   -> flatten -> Linear(3136 -> 128) -> SiLU = features [B, 128]
//   -> dropout -> Linear(128 -> K) = logits             [B, K]
// SiLU rather than ReLU: as accurate here, and smooth, so finite differences can check the whole
// network (a ReLU kink within the difference step spoils them).
#pragma once
#include <string>

#include "nn/layers.h"

namespace mindiff::diffusion {

struct ClassifierConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;  // must be divisible by 4
  int64_t num_classes = 10;
  int64_t width = 32;       // channels of the first conv; the second has 2x
  int64_t features = 128;
  float dropout = 0.25f;
  std::string to_string() const;  // "classifier in=1 size=28 classes=10 width=32 features=128 dropout=0.25"
  static ClassifierConfig parse(const std::string& text);
  void validate() const;
};

class Classifier : public nn::Module {
 public:
  Classifier(const ClassifierConfig& config, Generator& gen);
  Tensor features(const Tensor& x) const;  // [B, features]
  // Logits [B, K]; gen feeds dropout in training mode (may be null in evaluation mode).
  Tensor forward(const Tensor& x, Generator* gen = nullptr) const;
  // The last layer alone, without dropout: logits [B, K] from features [B, features], so that
  // one pass gives both (sample scoring). Equals forward(x) in evaluation mode.
  Tensor logits(const Tensor& features) const { return head_->forward(features); }
  const ClassifierConfig& config() const { return config_; }

 private:
  ClassifierConfig config_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::GroupNorm> norm1_, norm2_;
  std::shared_ptr<nn::Linear> fc_, head_;
  std::shared_ptr<nn::Dropout> drop_;
};

}  // namespace mindiff::diffusion
