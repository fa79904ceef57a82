// The training recipe for 2-D toy data (data/toy2d.h): the defaults `train` takes for them in
// place of TrainSettings' (which are the recipe for images), for every setting the command line
// leaves unset. TrainSettings' recipe is made for a U-Net on images: on the swiss roll its earlier
// form (ddpm-linear, 10,000 steps of batch 64 at lr 2e-4) left the diffusion samplers 0.97-1.30 times the
// exact-versus-exact 95th percentile of the energy distance away from the data (2000 samples),
// while this one (about 25 s of one core) brings them to 0.17-0.30 times it (docs/samplers.md).
#pragma once
#include <string>

#include "diffusion/app/train_settings.h"

namespace mindiff::diffusion {

struct ToyRecipe {
  // The process and objective the theory notes teach, so that every sampler of `sample` runs on a
  // toy model (ddim and ancestral need DDPM's discrete steps, which --schedule edm does not have).
  const char* schedule = "ddpm-linear";
  const char* objective = "eps";
  int64_t steps = 6000;
  int64_t batch = 256;
  double lr = 2e-3;
  double min_lr_ratio = 0.05;  // --min-lr, unless given: this fraction of --lr (1e-4 at 2e-3)
  int64_t warmup = 100;
};

// True when `data` names a 2-D toy set.
bool is_toy_data(const std::string& data);

// When s trains a diffusion model on a 2-D toy set, sets every recipe setting that s.given does
// not hold. parse_train_settings() calls it before validate(); the run folder's settings.txt,
// written from every setting's value, records what it set.
void apply_toy_recipe(TrainSettings& s);

}  // namespace mindiff::diffusion
