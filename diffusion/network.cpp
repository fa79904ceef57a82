#include "diffusion/network.h"

#include <sstream>

namespace mindiff::diffusion {

std::shared_ptr<DiffusionNet> DiffusionNet::build(const std::string& line, Generator& gen) {
  auto net = std::shared_ptr<DiffusionNet>(new DiffusionNet());
  if (line.rfind("unet", 0) == 0)
    net->unet_ = std::make_shared<nn::UNet>(nn::UNetConfig::parse(line), gen);
  else if (line.rfind("mlp", 0) == 0)
    net->mlp_ = std::make_shared<nn::ScoreMLP>(nn::MLPConfig::parse(line), gen);
  else
    throw Error("model config '" + line + "' is neither a 'unet ...' nor an 'mlp ...' line");
  return net;
}

std::string DiffusionNet::config_for_data(const std::string& user, const Shape& sample_shape,
                                          int64_t num_classes) {
  std::istringstream is(user);
  std::string first, word;
  std::vector<std::string> overrides;
  is >> first;
  if (first.find('=') != std::string::npos) {
    overrides.push_back(first);
    first.clear();
  }
  while (is >> word) overrides.push_back(word);
  const bool images = sample_shape.ndim() == 3;
  MD_CHECK(images || sample_shape.ndim() == 1, "--config: data samples of shape ",
           sample_shape.str(), " are neither images [C, S, S] nor vectors [D]");
  // Base line from the preset, then key=value overrides, then the data's own geometry.
  std::string base;
  std::vector<std::string> data_keys;
  if (images) {
    MD_CHECK(sample_shape[1] == sample_shape[2], "--config: images must be square, got ",
             sample_shape.str());
    nn::UNetConfig c = nn::UNetConfig::preset(first.empty() ? "small" : first);
    base = c.to_string();
    data_keys = {"in=" + std::to_string(sample_shape[0]), "size=" + std::to_string(sample_shape[1]),
                 "classes=" + std::to_string(num_classes)};
  } else {
    MD_CHECK(first.empty() || first == "mlp", "--config: '", first,
             "' is not a network for vector data (use 'mlp' with optional key=value overrides)");
    base = nn::MLPConfig().to_string();
    data_keys = {"dim=" + std::to_string(sample_shape[0]), "classes=" + std::to_string(num_classes)};
  }
  // Rebuild the line with later keys replacing earlier ones, in the base line's key order.
  std::istringstream bs(base);
  std::string kind;
  bs >> kind;
  std::vector<std::pair<std::string, std::string>> kv;
  while (bs >> word) kv.emplace_back(word.substr(0, word.find('=')), word.substr(word.find('=') + 1));
  auto apply = [&](const std::string& item, bool from_user) {
    size_t eq = item.find('=');
    MD_CHECK(eq != std::string::npos, "--config: expected key=value, got '", item, "'");
    std::string key = item.substr(0, eq);
    MD_CHECK(!from_user || (key != "in" && key != "size" && key != "dim" && key != "classes"),
             "--config: '", key, "' comes from the data and cannot be set");
    for (auto& [k, v] : kv)
      if (k == key) {
        v = item.substr(eq + 1);
        return;
      }
    throw Error("--config: unknown key '" + key + "' for a " + kind + " network");
  };
  for (const std::string& o : overrides) apply(o, true);
  for (const std::string& d : data_keys) apply(d, false);
  std::string line = kind;
  for (const auto& [k, v] : kv) line += " " + k + "=" + v;
  // Parse once so that an invalid combination is reported now, with the config's own message.
  try {
    if (images)
      nn::UNetConfig::parse(line);
    else
      nn::MLPConfig::parse(line);
  } catch (const Error& e) {
    throw Error(std::string("--config: ") + e.what());
  }
  return line;
}

nn::Module& DiffusionNet::module() const {
  return unet_ ? static_cast<nn::Module&>(*unet_) : static_cast<nn::Module&>(*mlp_);
}

std::string DiffusionNet::config_line() const {
  return unet_ ? unet_->config().to_string() : mlp_->config().to_string();
}

Shape DiffusionNet::sample_shape() const {
  if (unet_) {
    const nn::UNetConfig& c = unet_->config();
    return Shape{c.in_channels, c.image_size, c.image_size};
  }
  return Shape{mlp_->config().dim};
}

int64_t DiffusionNet::num_classes() const {
  return unet_ ? unet_->config().num_classes : mlp_->config().num_classes;
}

Device DiffusionNet::device() const {
  const std::vector<Tensor> params = module().parameters();
  return params.empty() ? Device::CPU : params[0].device();
}

Tensor DiffusionNet::forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels,
                             Generator* gen) const {
  return unet_ ? unet_->forward(x, t, labels, gen) : mlp_->forward(x, t, labels);
}

ModelFn DiffusionNet::model_fn(Generator* gen) const {
  return [this, gen](const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels) {
    return forward(x, t, labels, gen);
  };
}

}  // namespace mindiff::diffusion
