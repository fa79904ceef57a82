// `train`'s settings: the table of train_settings.h expanded into flags, reading, the record and
// the resume identity.
#include "diffusion/app/train_settings.h"

#include <cstdio>

#include "diffusion/app/toy_recipe.h"

namespace mindiff::diffusion {

using namespace mindiff::rule;

namespace {
Flags train_flags() {
  Flags flags("train",
              "Trains a diffusion model; rerun the same command to resume.\n"
              "2-D toy sets (--data gmm8, moons, ...) take their own defaults for --steps, "
              "--batch, --lr, --min-lr and --warmup (diffusion/app/toy_recipe.h).");
  MINDIFF_TRAIN_SETTINGS(MINDIFF_SETTING_DECLARE)
  return flags;
}
}  // namespace

bool parse_train_settings(int argc, const char* const* argv, TrainSettings& s) {
  Flags flags = train_flags();
  if (!flags.parse(argc, argv)) {
    std::printf("%s", flags.usage().c_str());
    return false;
  }
  MINDIFF_TRAIN_SETTINGS(MINDIFF_SETTING_READ)
  const std::vector<std::string> given = flags.given();
  s.given = std::set<std::string>(given.begin(), given.end());
  apply_toy_recipe(s);  // 2-D toy sets: their own defaults for what was not given
  validate(s);
  return true;
}

void validate(const TrainSettings& s) {
  MD_CHECK(s.min_lr <= s.lr, "--min-lr must be in [0, --lr], got ", s.min_lr, " with --lr ", s.lr);
  MD_CHECK(s.stop_at <= s.steps, "--stop-at ", s.stop_at, " is past --steps ", s.steps);
  MD_CHECK(s.channels != 2, "--channels must be 1 or 3, got 2");
  MD_CHECK(s.model == "diffusion" || s.model == "classifier", "--model ", s.model,
           ": expected diffusion or classifier");
  MD_CHECK(s.model == "classifier" || !s.given.count("epochs"),
           "--epochs applies to --model classifier; diffusion runs count --steps");
  parse_run_precision(s.precision, parse_device("device", s.device));
}

std::string settings_record(const TrainSettings& s) {
  std::string record;
  MINDIFF_TRAIN_SETTINGS(MINDIFF_SETTING_RECORD)
  return record;
}

std::map<std::string, std::string> resume_identity(const TrainSettings& s,
                                                   const std::string& model_config) {
  std::map<std::string, std::string> identity;
  MINDIFF_TRAIN_SETTINGS(MINDIFF_SETTING_IDENTITY)
  identity["model"] = model_config;
  return identity;
}

Objective training_objective(const TrainSettings& s, const Process& process) {
  Objective objective;
  objective.kind = parse_parameterization(s.objective, s.sigma_data);
  check_parameterization(objective.kind, process);
  objective.min_snr_gamma = s.min_snr_gamma;
  MD_CHECK(s.min_snr_gamma == 0 || objective.kind.kind == Parameterization::kEps ||
               objective.kind.kind == Parameterization::kX0 ||
               objective.kind.kind == Parameterization::kV,
           "--min-snr-gamma applies to --objective eps, x0 or v, not ", s.objective);
  objective.p_mean = s.p_mean;
  objective.p_std = s.p_std;
  objective.p_uncond = s.conditional ? s.p_uncond : 0.0;
  return objective;
}

}  // namespace mindiff::diffusion
