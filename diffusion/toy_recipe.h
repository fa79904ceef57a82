// The training recipe for 2-D toy data (data/toy2d.h): the defaults `train` takes for them in
// place of TrainSettings' (which are the recipe for images), for every setting the command line
// leaves unset. TrainSettings' recipe -- 10,000 steps of batch 64 at lr 2e-4 -- is made for a
// U-Net on images; on the swiss roll it left every sampler more than 3 times the exact-vs-exact
// 95th percentile away from the data, while this one (a few minutes on one core) brings them
// within it (README, "Samplers").
#pragma once
#include <functional>
#include <string>

#include "diffusion/trainer.h"

namespace mindiff::diffusion {

struct ToyRecipe {
  int64_t steps = 6000;
  int64_t batch = 256;
  double lr = 2e-3;
  double min_lr_ratio = 0.05;  // --min-lr, unless given: this fraction of --lr (1e-4 at 2e-3)
  int64_t warmup = 100;
};

// When s.data is a 2-D toy set, sets every recipe setting whose flag was_set(flag name) says
// was not given, and appends what it set to s.settings_line (so the run folder records it).
void apply_toy_recipe(TrainSettings& s, const std::function<bool(const std::string&)>& was_set);

}  // namespace mindiff::diffusion
