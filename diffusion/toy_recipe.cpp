// The 2-D toy recipe (toy_recipe.h).
#include "diffusion/toy_recipe.h"

#include <sstream>

#include "data/toy2d.h"

namespace mindiff::diffusion {

void apply_toy_recipe(TrainSettings& s, const std::function<bool(const std::string&)>& was_set) {
  bool toy = false;
  for (const std::string& name : toy2d_names()) toy = toy || s.data == name;
  if (!toy) return;
  const ToyRecipe r;
  std::ostringstream set;
  auto take = [&](const char* flag, auto& setting, auto value) {
    if (was_set(flag)) return;
    setting = value;
    set << " --" << flag << "=" << value;
  };
  take("steps", s.steps, r.steps);
  take("batch", s.batch, r.batch);
  take("lr", s.lr, r.lr);
  take("min-lr", s.min_lr, r.min_lr_ratio * s.lr);
  take("warmup", s.warmup, r.warmup);
  if (!set.str().empty()) s.settings_line += " (2-D toy recipe:" + set.str() + ")";
}

}  // namespace mindiff::diffusion
