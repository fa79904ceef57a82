// `sample`'s settings: the table of sample_settings.h expanded into flags and reading.
#include "diffusion/app/sample_settings.h"

#include <cstdio>

namespace mindiff::diffusion {

using namespace mindiff::rule;

namespace {
Flags sample_flags() {
  Flags flags("sample", "Draws samples from a trained diffusion model.");
  MINDIFF_SAMPLE_SETTINGS(MINDIFF_SETTING_DECLARE)
  return flags;
}

}  // namespace

bool parse_sample_settings(int argc, const char* const* argv, SampleSettings& s) {
  Flags flags = sample_flags();
  if (!flags.parse(argc, argv)) {
    std::printf("%s", flags.usage().c_str());
    return false;
  }
  MINDIFF_SAMPLE_SETTINGS(MINDIFF_SETTING_READ)
  const std::vector<std::string> given = flags.given();
  s.given = std::set<std::string>(given.begin(), given.end());
  validate(s);
  return true;
}

void validate(const SampleSettings& s) {
  MD_CHECK(settings::ends_with(s.out, ".png") || settings::ends_with(s.out, ".npy"), "--out ", s.out,
           ": the name must end in .png or .npy");
  MD_CHECK(s.trajectory.empty() || settings::ends_with(s.trajectory, ".png"), "--trajectory ", s.trajectory,
           ": the name must end in .png");
  MD_CHECK(s.score_field.empty() || settings::ends_with(s.score_field, ".png"), "--score-field ",
           s.score_field, ": the name must end in .png");
  MD_CHECK(s.s_tmin <= s.s_tmax, "--s-tmin ", s.s_tmin, " must not exceed --s-tmax ", s.s_tmax);
}

SamplerOptions sampler_options(const SampleSettings& s, Device device) {
  SamplerOptions o;
  o.steps = static_cast<int>(s.steps);
  o.eta = s.eta;
  o.denoise_final = s.denoise_final;
  o.rho = s.rho;
  o.s_churn = s.s_churn;
  o.s_tmin = s.s_tmin;
  o.s_tmax = s.s_tmax;
  o.s_noise = s.s_noise;
  o.seed = static_cast<uint64_t>(s.seed);
  o.trajectory_frames = s.trajectory.empty() ? 0 : 10;
  o.device = device;
  return o;
}

}  // namespace mindiff::diffusion
