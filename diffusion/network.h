// The network a diffusion model trains, behind one interface: a U-Net for images or a ScoreMLP
// for low-dimensional data, rebuilt from the one-line configuration a checkpoint stores
// ("unet in=1 size=28 ..." or "mlp dim=2 ...").
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "diffusion/objectives.h"
#include "nn/mlp.h"
#include "nn/unet.h"

namespace mindiff::diffusion {

class DiffusionNet {
 public:
  // From a full config line (as stored in checkpoints); parameters initialised from gen.
  static std::shared_ptr<DiffusionNet> build(const std::string& config_line, Generator& gen);
  // From what a user types as --config, given the data's per-sample shape ([C, S, S] or [D]) and
  // class count: a preset ("small", "cifar", "tiny"; "mlp" for vectors) optionally followed by
  // key=value overrides ("small base=16 attn=none"), or only overrides (applied to "small" for
  // images, "mlp" for vectors). Channels, size and dimension always come from the data.
  static std::string config_for_data(const std::string& user_config, const Shape& sample_shape,
                                     int64_t num_classes);

  nn::Module& module() const;
  std::string config_line() const;
  Shape sample_shape() const;  // [C, S, S] or [D]
  int64_t num_classes() const;
  Device device() const;  // where the parameters are (module().to(device) moves them)

  // x [B, ...], t [B] network times, labels as the networks take them; gen feeds dropout in
  // training mode (may be null when the network has none or is in evaluation mode).
  Tensor forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels,
                 Generator* gen) const;
  ModelFn model_fn(Generator* gen = nullptr) const;

 private:
  std::shared_ptr<nn::UNet> unet_;
  std::shared_ptr<nn::ScoreMLP> mlp_;
};

}  // namespace mindiff::diffusion
