// Loading a trained model for sampling: the network rebuilt from the checkpoint's config line,
// its weights (the EMA weights when the checkpoint has them and they are wanted), and the
// forward process and parameterisation it was trained with.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "diffusion/network.h"

namespace mindiff::diffusion {

struct LoadedModel {
  std::string path;  // the checkpoint file actually read
  std::shared_ptr<DiffusionNet> net;
  std::shared_ptr<Process> process;
  Parameterization kind = Parameterization::kEps;
  std::vector<std::string> class_names;
  uint64_t step = 0;
  std::string weights;  // "ema" or "live"
};

// `path` is a checkpoint file or a run folder (diffusion/run_folder.h resolve_checkpoint).
// With prefer_ema, a training checkpoint's EMA weights are used; a final model.ckpt already holds
// the EMA weights as its model. Errors name the file and what is wrong with it.
LoadedModel load_model(const std::string& path, bool prefer_ema);

}  // namespace mindiff::diffusion
