#include "diffusion/app/classifier.h"

#include <sstream>

#include "nn/config_text.h"

namespace mindiff::diffusion {

std::string ClassifierConfig::to_string() const {
  std::ostringstream os;
  os << "classifier in=" << in_channels << " size=" << image_size << " classes=" << num_classes
     << " width=" << width << " features=" << features << " dropout=" << dropout;
  return os.str();
}

ClassifierConfig ClassifierConfig::parse(const std::string& text) {
  nn::ConfigReader r(text, "classifier", "ClassifierConfig");
  ClassifierConfig c;  // the defaults, for keys the text leaves out
  r.read("in", c.in_channels);
  r.read("size", c.image_size);
  r.read("classes", c.num_classes);
  r.read("width", c.width);
  r.read("features", c.features);
  r.read("dropout", c.dropout);
  r.reject_unknown();
  c.validate();
  return c;
}

void ClassifierConfig::validate() const {
  using nn::config_check_range, nn::kMaxConfigWidth, nn::kMaxConfigImageSize, nn::kMaxConfigClasses;
  const char* what = "ClassifierConfig";
  config_check_range(in_channels, 1, kMaxConfigWidth, what, "in");
  config_check_range(image_size, 4, kMaxConfigImageSize, what, "size");
  config_check_range(num_classes, 2, kMaxConfigClasses, what, "classes");
  config_check_range(width, 8, kMaxConfigWidth, what, "width");
  config_check_range(features, 1, kMaxConfigWidth, what, "features");
  MD_CHECK(image_size % 4 == 0, "ClassifierConfig: image size ", image_size,
           " must be a positive multiple of 4");
  MD_CHECK(width > 0 && width % 8 == 0, "ClassifierConfig: width ", width,
           " must be a positive multiple of 8 (nn::GroupNorm with 8 groups)");
  MD_CHECK(dropout >= 0.0f && dropout < 1.0f, "ClassifierConfig: dropout ", dropout,
           " outside [0, 1)");
}

Classifier::Classifier(const ClassifierConfig& cfg, Generator& gen) : config_(cfg) {
  cfg.validate();
  const int64_t w = cfg.width, s = cfg.image_size / 4;
  conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(cfg.in_channels, w, 3, gen, 1, 1));
  norm1_ = register_module("norm1", std::make_shared<nn::GroupNorm>(8, w));
  conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(w, 2 * w, 3, gen, 1, 1));
  norm2_ = register_module("norm2", std::make_shared<nn::GroupNorm>(8, 2 * w));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(2 * w * s * s, cfg.features, gen));
  head_ = register_module("head", std::make_shared<nn::Linear>(cfg.features, cfg.num_classes, gen));
  drop_ = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout));
}

Tensor Classifier::features(const Tensor& x) const {
  const ClassifierConfig& c = config_;
  MD_CHECK(x.ndim() == 4 && x.size(1) == c.in_channels && x.size(2) == c.image_size &&
               x.size(3) == c.image_size,
           "Classifier: input ", x.shape().str(), " does not match [B, ", c.in_channels, ", ",
           c.image_size, ", ", c.image_size, "]");
  Tensor h = avg_pool2d(norm1_->forward_silu(conv1_->forward(x)), 2);
  h = avg_pool2d(norm2_->forward_silu(conv2_->forward(h)), 2);
  return silu(fc_->forward(h.reshape({x.size(0), -1})));
}

Tensor Classifier::forward(const Tensor& x, Generator* gen) const {
  Tensor f = features(x);
  if (training() && drop_->p > 0.0f) {
    MD_CHECK(gen != nullptr, "Classifier: dropout in training mode needs a generator");
    f = drop_->forward(f, *gen);
  }
  return head_->forward(f);
}

}  // namespace mindiff::diffusion
