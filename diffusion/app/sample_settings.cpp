// `sample`'s settings: the table of sample_settings.h expanded into flags and reading, and the
// relations between settings.
#include "diffusion/app/sample_settings.h"

#include <cstdio>

#include "diffusion/app/sample_target.h"

namespace mindiff::diffusion {

using namespace mindiff::rule;

namespace {

Flags sample_flags() {
  Flags flags("sample", "Draws samples from a trained diffusion model (or, with --target, from an "
                        "exact target).");
  MINDIFF_SAMPLE_SETTINGS(MINDIFF_SETTING_DECLARE)
  return flags;
}

// Runs `check` (which throws on a bad name) with the flag and the value in front of its message.
template <class Check>
void check_named(const char* flag, const std::string& value, Check check) {
  try {
    check();
  } catch (const Error& e) {
    throw Error(std::string("--") + flag + " " + value + ": " + e.what());
  }
}

// The flags of one kind of run, refused in another (a flag that would be ignored is an error).
void refuse_given(const SampleSettings& s, std::initializer_list<const char*> flags,
                  const std::string& why) {
  for (const char* flag : flags) MD_CHECK(!s.given.count(flag), "--", flag, " ", why);
}

void validate_outputs(const SampleSettings& s) {
  MD_CHECK(settings::ends_with(s.out, ".png") || settings::ends_with(s.out, ".npy"), "--out ",
           s.out, ": the name must end in .png or .npy");
  MD_CHECK(s.trajectory.empty() || settings::ends_with(s.trajectory, ".png"), "--trajectory ",
           s.trajectory, ": the name must end in .png");
  MD_CHECK(s.score_field.empty() || settings::ends_with(s.score_field, ".png"), "--score-field ",
           s.score_field, ": the name must end in .png");
}

void validate_sampler_parameters(const SampleSettings& s) {
  MD_CHECK(s.s_tmin <= s.s_tmax, "--s-tmin ", s.s_tmin, " must not exceed --s-tmax ", s.s_tmax);
  const double lo = settings::auto_number(s.sigma_min), hi = settings::auto_number(s.sigma_max);
  MD_CHECK(lo == 0 || hi == 0 || lo < hi, "--sigma-min ", s.sigma_min,
           " must be below --sigma-max ", s.sigma_max);
}

// --target and --schedule name something that exists and suits the outputs and the sampler, and
// the flags of a network are not given with them (nor those of a target without them).
void validate_target(const SampleSettings& s) {
  if (s.target.empty()) {
    refuse_given(s, {"schedule"}, "applies to --target (a model's process is its checkpoint's)");
    return;
  }
  ExactTarget t;
  check_named("target", s.target, [&] { t = make_target(s.target); });  // a file is read now
  check_named("schedule", s.schedule, [&] { make_process(s.schedule); });
  refuse_given(s, {"checkpoint", "ema", "class", "guidance", "clip", "score", "score-file",
                   "classifier"},
               "applies to a trained network, not --target");
  MD_CHECK(s.device == "cpu", "--device ", s.device, ": exact targets are sampled on the CPU");
  const int64_t dim = t.dim();
  MD_CHECK(settings::ends_with(s.out, ".npy") || dim == 2, "--out ", s.out,
           ": a scatter plot needs 2-D points; ", s.target, " has ", dim,
           " dimensions (write .npy)");
  MD_CHECK(s.trajectory.empty() || dim == 2, "--trajectory ", s.trajectory, ": draws 2-D points; ",
           s.target, " has ", dim, " dimensions");
  MD_CHECK(s.score_field.empty() || (dim == 2 && t.mixture), "--score-field ", s.score_field,
           ": draws the noised score of a 2-D mixture target, not ", s.target);
  if (!t.energy) return;
  MD_CHECK(!s.given.count("schedule"), "--schedule ", s.schedule, ": the energy ", s.target,
           " has no forward process");
  MD_CHECK(s.sampler.empty() || runs_on_energy(s.sampler), "--sampler ", s.sampler, ": ",
           s.target, " is given by its energy, which langevin and mala sample (the others need "
           "noise levels)");
  MD_CHECK(!s.likelihood, "--likelihood: ", s.target, " is given by its energy, whose "
           "normalising constant (and so its bits/dim) is unknown");
}

void validate_likelihood_and_check(const SampleSettings& s) {
  if (!s.likelihood)
    refuse_given(s, {"likelihood-n", "trace", "probes", "likelihood-steps"},
                 "applies to --likelihood");
  if (!s.check.empty()) check_named("check", s.check, [&] { check_reference_name(s.check); });
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
  validate_outputs(s);
  if (!s.sampler.empty()) check_sampler_name(s.sampler, "--sampler");
  validate_sampler_parameters(s);
  validate_target(s);
  validate_likelihood_and_check(s);
  parse_run_precision(s.precision, parse_device("device", s.device));
}

SamplerOptions sampler_options(const SampleSettings& s, Device device) {
  using settings::auto_number;
  auto auto_count = [](const std::string& v) { return static_cast<int>(auto_number(v)); };
  SamplerOptions o;
  o.steps = static_cast<int>(s.steps);
  o.eta = s.eta;
  o.denoise_final = s.denoise_final;
  o.snr = s.snr;
  o.corrector_steps = static_cast<int>(s.corrector_steps);
  o.rtol = s.rtol;
  o.atol = s.atol;
  o.rho = s.rho;
  o.s_churn = auto_number(s.s_churn);
  o.s_tmin = s.s_tmin;
  o.s_tmax = s.s_tmax;
  o.s_noise = s.s_noise;
  o.walk = s.walk == settings::kAuto ? Walk::Default : parse_walk(s.walk);
  o.step_size = auto_number(s.step_size);
  o.friction = auto_number(s.friction);
  o.sigma = auto_number(s.sigma);
  o.start = s.chain_start == settings::kAuto ? ChainStart::Default : parse_chain_start(s.chain_start);
  o.measurements = auto_count(s.measurements);
  o.measurement_steps = auto_count(s.measurement_steps);
  o.levels = auto_count(s.levels);
  o.sigma_max = auto_number(s.sigma_max);
  o.sigma_min = auto_number(s.sigma_min);
  o.seed = static_cast<uint64_t>(s.seed);
  o.trajectory_frames = s.trajectory.empty() ? 0 : kTrajectoryFrames;
  o.device = device;
  return o;
}

SamplerChoice choose_sampler(const SampleSettings& s, const DefaultSampler& fallback,
                             Device device) {
  SamplerChoice c{s.sampler.empty() ? fallback.name : s.sampler, sampler_options(s, device)};
  check_sampler_name(c.name, "--sampler");
  if (c.name == fallback.name && !s.given.count("steps")) c.options.steps = fallback.steps;
  return c;
}

}  // namespace mindiff::diffusion
