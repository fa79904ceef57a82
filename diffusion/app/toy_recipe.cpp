// The 2-D toy recipe (toy_recipe.h).
#include "diffusion/app/toy_recipe.h"

#include "data/toy2d.h"

namespace mindiff::diffusion {

bool is_toy_data(const std::string& data) {
  for (const std::string& name : toy2d_names())
    if (data == name) return true;
  return false;
}

void apply_toy_recipe(TrainSettings& s) {
  if (s.model != "diffusion" || !is_toy_data(s.data)) return;
  const ToyRecipe r;
  auto take = [&](const char* flag, auto& setting, auto value) {
    if (!s.given.count(flag)) setting = value;
  };
  take("schedule", s.schedule, std::string(r.schedule));
  take("objective", s.objective, std::string(r.objective));
  take("steps", s.steps, r.steps);
  take("batch", s.batch, r.batch);
  take("lr", s.lr, r.lr);
  take("min-lr", s.min_lr, r.min_lr_ratio * s.lr);
  take("warmup", s.warmup, r.warmup);
}

}  // namespace mindiff::diffusion
