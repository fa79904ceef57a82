#include "nn/mlp.h"

#include <sstream>

#include "nn/config_text.h"

namespace mindiff::nn {

std::string MLPConfig::to_string() const {
  std::ostringstream os;
  os << "mlp dim=" << dim << " hidden=" << hidden << " layers=" << layers << " temb=" << temb
     << " classes=" << num_classes;
  return os.str();
}

MLPConfig MLPConfig::parse(const std::string& text) {
  ConfigReader r(text, "mlp", "MLPConfig");
  MLPConfig c;  // the defaults, for keys the text leaves out
  r.read("dim", c.dim);
  r.read("hidden", c.hidden);
  r.read("layers", c.layers);
  r.read("temb", c.temb);
  r.read("classes", c.num_classes);
  r.reject_unknown();
  c.validate();
  return c;
}

void MLPConfig::validate() const {
  const char* what = "MLPConfig";
  config_check_range(dim, 1, kMaxConfigWidth, what, "dim");
  config_check_range(hidden, 1, kMaxConfigWidth, what, "hidden");
  config_check_range(layers, 0, kMaxConfigLayers, what, "layers");
  config_check_range(temb, 2, kMaxConfigWidth, what, "temb");
  config_check_range(num_classes, 0, kMaxConfigClasses, what, "classes");
}

ScoreMLP::ScoreMLP(const MLPConfig& cfg, Generator& gen) : config_(cfg) {
  cfg.validate();
  temb_fc_ = register_module("temb_fc", std::make_shared<Linear>(cfg.temb, cfg.hidden, gen));
  if (cfg.num_classes > 0)
    class_emb_ = register_module("class_emb",
                                 std::make_shared<ClassEmbedding>(cfg.num_classes, cfg.hidden, gen));
  in_ = register_module("in", std::make_shared<Linear>(cfg.dim, cfg.hidden, gen));
  layers_ = register_module("layers", std::make_shared<ModuleList>());
  temb_layers_ = register_module("temb_layers", std::make_shared<ModuleList>());
  for (int64_t l = 0; l < cfg.layers; ++l) {
    hidden_.push_back(layers_->push_back(std::make_shared<Linear>(cfg.hidden, cfg.hidden, gen)));
    temb_proj_.push_back(
        temb_layers_->push_back(std::make_shared<Linear>(cfg.hidden, cfg.hidden, gen)));
  }
  out_ = register_module("out", std::make_shared<Linear>(cfg.hidden, cfg.dim, gen));
}

Tensor ScoreMLP::forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels) const {
  MD_CHECK(x.ndim() == 2 && x.size(1) == config_.dim, "ScoreMLP: input ", x.shape().str(),
           " is not [B, ", config_.dim, "]");
  MD_CHECK(t.ndim() == 1 && t.size(0) == x.size(0), "ScoreMLP: t ", t.shape().str(),
           " must be [B] for input ", x.shape().str());
  Tensor temb = silu(temb_fc_->forward(timestep_embedding(t, config_.temb)));  // [B, H]
  if (class_emb_) {
    MD_CHECK(static_cast<int64_t>(labels.size()) == x.size(0), "ScoreMLP: ", labels.size(),
             " labels for a batch of ", x.size(0));
    temb = temb + class_emb_->forward(labels);
  } else {
    MD_CHECK(labels.empty(), "ScoreMLP: labels given to an unconditional model");
  }
  Tensor h = in_->forward(x) + temb;
  for (size_t l = 0; l < hidden_.size(); ++l)
    h = h + hidden_[l]->forward(silu(h)) + temb_proj_[l]->forward(temb);
  return out_->forward(silu(h));
}

}  // namespace mindiff::nn
