// `sample --target`, `--likelihood` and `--check` (sample_target.h).
#include "diffusion/sample_target.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "data/image_io.h"
#include "data/open.h"
#include "data/toy2d.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/preview.h"
#include "diffusion/sample_check.h"
#include "diffusion/sampler_flags.h"
#include "diffusion/targets.h"
#include "nn/checkpoint.h"
#include "nn/embedding.h"

namespace mindiff::diffusion {

namespace {

constexpr int kCheckRepeats = 50;      // exact pairs behind a --check threshold not in the table
constexpr int kBoundTimesteps = 100;   // DDPM bound: one term per stratum (unbiased; BoundOptions)
constexpr int kTrajectoryFrames = 10;  // --trajectory: snapshots from noise to samples
constexpr uint64_t kReferenceSeed =
    0x5eed0f7e57ull;  // exact draws to compare with, apart from --seed's

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The exact samples and the modes of a --check name: a target, or a 2-D toy set.
struct Reference {
  std::function<Tensor(int64_t, uint64_t)> exact;
  std::optional<GaussianMixture> modes;
};

Reference reference_of(const std::string& name) {
  Reference r;
  for (const std::string& toy : toy2d_names())
    if (name == toy && name != "gmm8" && name != "ring") {
      r.exact = [name](int64_t n, uint64_t seed) { return toy2d(name, n, seed); };
      return r;
    }
  const ExactTarget t = make_target(name);
  r.exact = [t](int64_t n, uint64_t seed) { return t.exact_samples(n, seed); };
  if (t.modes()) r.modes = *t.modes();
  return r;
}

}  // namespace

void add_target_flags(Flags& flags) {
  flags.add_string(
      "target", "",
      "sample an exact target instead of a network: " + target_names() + " (docs/samplers.md)");
  flags.add_string(
      "schedule", kTargetSchedule,
      "--target: the forward process whose noised score "
      "of the mixture the samplers use (ddpm-linear, ddpm-cosine, vp, subvp, ve, ou, edm)");
  flags.add_bool("likelihood", false,
                 "print bits/dim of --likelihood-n data points (the target's "
                 "exact samples, or the model's data) instead of sampling");
  flags.add_int("likelihood-n", 1000, "--likelihood: how many points");
  flags.add_string("trace", "auto",
                   "--likelihood: the divergence, exact or rademacher or gaussian "
                   "(Hutchinson); auto: exact up to 64 values per point");
  flags.add_int("probes", 1, "--likelihood: Hutchinson probes per point");
  flags.add_int("likelihood-steps", 100, "--likelihood: RK4 steps of the probability-flow ODE");
  flags.add_string("check", "",
                   "compare the samples with as many exact draws of NAME (a target or "
                   "a 2-D toy set): energy distance, mode weights and spreads against their "
                   "exact-versus-exact 95th percentiles");
  add_sampler_flags(flags);
}

TargetSettings read_target_flags(const Flags& flags) {
  TargetSettings s;
  s.target = flags.get_string("target");
  try {
    if (!s.target.empty()) make_target(s.target);  // a bad name or file fails now
  } catch (const Error& e) {
    throw Error("--target " + s.target + ": " + e.what());
  }
  s.schedule = flags.get_string("schedule");
  try {
    make_process(s.schedule);
  } catch (const Error& e) {
    throw Error("--schedule " + s.schedule + ": " + e.what());
  }
  read_sampler_flags(flags, s.sampler);
  s.likelihood = flags.get_bool("likelihood");
  s.likelihood_n = flags.get_int("likelihood-n");
  MD_CHECK(s.likelihood_n >= 2 && s.likelihood_n <= 10000000, "--likelihood-n ", s.likelihood_n,
           ": must be in [2, 10000000] (a standard error needs 2 points)");
  LikelihoodSettings& ls = s.likelihood_settings;
  ls.trace = flags.get_string("trace");
  trace_estimator(ls.trace, 1);  // the name only; the dimension is checked with the data
  const int64_t probes = flags.get_int("probes"), steps = flags.get_int("likelihood-steps");
  MD_CHECK(probes >= 1 && probes <= 100000, "--probes ", probes, ": must be in [1, 100000]");
  MD_CHECK(steps >= 1 && steps <= 100000, "--likelihood-steps ", steps, ": must be in [1, 100000]");
  ls.probes = static_cast<int>(probes);
  ls.steps = static_cast<int>(steps);
  ls.bound_timesteps = kBoundTimesteps;
  ls.seed = static_cast<uint64_t>(flags.get_int("seed"));
  s.check = flags.get_string("check");
  if (!s.check.empty()) {
    try {
      reference_of(s.check);
    } catch (const Error& e) {
      throw Error("--check " + s.check + ": " + e.what());
    }
  }
  return s;
}

void apply_sampler_flags(const TargetSettings& s, SamplerOptions& o) {
  const SamplerOptions& f = s.sampler;
  o.snr = f.snr, o.corrector_steps = f.corrector_steps, o.rtol = f.rtol, o.atol = f.atol;
  o.rho = f.rho, o.s_churn = f.s_churn, o.s_tmin = f.s_tmin, o.s_tmax = f.s_tmax;
  o.s_noise = f.s_noise, o.walk = f.walk, o.step_size = f.step_size, o.friction = f.friction;
  o.sigma = f.sigma, o.measurements = f.measurements, o.measurement_steps = f.measurement_steps;
  o.levels = f.levels, o.sigma_max = f.sigma_max, o.sigma_min = f.sigma_min;
}

std::string check_report(const Tensor& x, const std::string& name, uint64_t seed) {
  const Reference ref = reference_of(name);
  const int64_t n = x.size(0), bad = non_finite_rows(x);
  if (bad > 0)
    return "--check " + name + ": " + std::to_string(bad) + " of " + std::to_string(n) +
           " samples are not finite; nothing to compare\n";
  const Tensor reference = ref.exact(n, seed ^ kReferenceSeed);
  MD_CHECK(reference.numel() / n == x.numel() / n, "--check ", name, ": its points have ",
           reference.numel() / n, " values, the samples ", x.numel() / n);
  const GaussianMixture* modes = ref.modes ? &*ref.modes : nullptr;
  const ExactThresholds* table = tabulated_thresholds(name, n);
  const ExactThresholds th =
      table ? *table : exact_thresholds(name, n, kCheckRepeats, ref.exact, modes, seed + 1);
  return format_check(check_stats(x, reference, modes, th), th, modes);
}

void print_model_likelihood(const LoadedModel& model, const TargetSettings& s) {
  const nn::Checkpoint ck = nn::load_checkpoint(model.path);
  const auto it = ck.extras.find("data");
  MD_CHECK(it != ck.extras.end(), "--likelihood: ", model.path, " does not record its data set");
  const std::string data = it->second;
  LikelihoodSettings ls = s.likelihood_settings;
  Tensor points;
  std::string what;
  bool toy = false;
  for (const std::string& name : toy2d_names()) toy = toy || name == data;
  if (toy) {
    points = toy2d(data, s.likelihood_n, ls.seed ^ kReferenceSeed);
    what = std::to_string(s.likelihood_n) + " fresh points of " + data;
  } else {
    OpenOptions o;
    o.split = "test";
    const Dataset test = open_dataset(data, o);
    const int64_t n = std::min(s.likelihood_n, test.size());
    points = test.images.slice(0, 0, n).contiguous();
    what = std::to_string(n) + " test images of " + data;
    ls.eight_bit = true;
  }
  // Class-conditional models are scored with the class left out (the label-dropout model).
  std::vector<int64_t> no_class;
  if (model.net->num_classes() > 0) no_class.push_back(nn::ClassEmbedding::kNoClass);
  NetworkDenoiser den(model.net->model_fn(nullptr), model.kind, model.process, no_class);
  std::printf("%s", likelihood_report(den, points, what, ls).c_str());
}

int sample_target_command(const Flags& flags, const TargetSettings& s) {
  const ExactTarget t = make_target(s.target);
  for (const char* model_only : {"checkpoint", "class", "guidance", "score", "score-file", "clip"})
    MD_CHECK(!flags.was_set(model_only), "--", model_only,
             " applies to a trained network, not --target");
  MD_CHECK(flags.get_string("device") == "cpu", "--target: exact targets are sampled on the CPU");
  MD_CHECK(!t.energy || !flags.was_set("schedule"), "--schedule: the energy ", s.target,
           " has no forward process");
  const int64_t n = flags.get_int("n"), batch = flags.get_int("batch"), dim = t.dim();
  const uint64_t seed = static_cast<uint64_t>(flags.get_int("seed"));
  const std::string out = flags.get_string("out"), trajectory = flags.get_string("trajectory");
  const std::string field = flags.get_string("score-field");
  MD_CHECK(ends_with(out, ".npy") || dim == 2, "--out ", out, ": a scatter plot needs 2-D points; ",
           s.target, " has ", dim, " dimensions (write .npy)");
  MD_CHECK(trajectory.empty() || dim == 2, "--trajectory: draws 2-D points; ", s.target, " has ",
           dim, " dimensions");
  MD_CHECK(field.empty() || (dim == 2 && t.mixture),
           "--score-field: draws the noised score of a "
           "2-D mixture target");
  MD_CHECK(field.empty() || ends_with(field, ".png"), "--score-field ", field,
           ": the name must end in .png");
  std::unique_ptr<MixtureDenoiser> den;
  if (t.mixture) den = std::make_unique<MixtureDenoiser>(*t.mixture, make_process(s.schedule));

  if (s.likelihood) {
    MD_CHECK(den, "--likelihood: ", s.target,
             " is given by its energy, whose normalising constant "
             "(and so its bits/dim) is unknown");
    const Tensor points = t.exact_samples(s.likelihood_n, seed ^ kReferenceSeed);
    const Process& p = den->process();
    auto exact = [&](const Tensor& x) {
      return t.mixture->log_density(x, p.alpha(p.t_min()), p.sigma(p.t_min()));
    };
    LikelihoodSettings ls = s.likelihood_settings;
    ls.batch = std::min<int64_t>(batch, 1024);
    std::printf("%s",
                likelihood_report(*den, points,
                                  std::to_string(s.likelihood_n) + " exact samples of " + s.target,
                                  ls, exact)
                    .c_str());
    return 0;
  }

  std::string sampler = flags.get_string("sampler");
  if (sampler.empty()) sampler = t.energy ? "langevin" : kDefaultSampler;
  MD_CHECK(is_sampler(sampler), "--sampler ", sampler, ": unknown sampler");
  MD_CHECK(
      !t.energy || runs_on_energy(sampler), "--sampler ", sampler, ": ", s.target,
      " is given by its energy, which langevin and mala sample (the others need noise levels)");
  SamplerOptions options;
  options.steps = static_cast<int>(flags.get_int("steps"));
  options.eta = flags.get_float("eta");
  options.denoise_final = flags.get_bool("denoise-final");
  options.seed = seed;
  options.trajectory_frames = trajectory.empty() ? 0 : kTrajectoryFrames;
  apply_sampler_flags(s, options);
  const SamplerOptions resolved =
      den ? resolve_options(sampler, *den, options) : resolve_options(sampler, *t.energy, options);
  std::printf("sampling %ld from the exact target %s%s\n  %s\n", static_cast<long>(n),
              s.target.c_str(), den ? (" (process " + s.schedule + ")").c_str() : "",
              describe_options(sampler, resolved).c_str());

  NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Tensor> parts, frames;
  int64_t evaluations = 0, accepted = 0;
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t count = std::min(batch, n - first);
    options.first_index = first;
    const Shape shape({count, dim});
    const SampleResult r =
        den ? sample(sampler, *den, shape, options) : sample(sampler, *t.energy, shape, options);
    evaluations += r.evaluations;
    if (r.acceptance >= 0) accepted += static_cast<int64_t>(std::llround(r.acceptance * count));
    parts.push_back(r.x);
    if (first == 0) frames = r.trajectory;
  }
  const Tensor x = parts.size() == 1 ? parts[0] : concat(parts, 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sampled %ld in %.2f s (%ld evaluations per batch)\n", static_cast<long>(n), seconds,
              static_cast<long>(evaluations / static_cast<int64_t>(parts.size())));
  if (needs_log_density(sampler))
    std::printf("mala accepted %.1f%% of its proposals\n", 100.0 * accepted / n);
  if (const int64_t bad = non_finite_rows(x))
    std::printf(
        "warning: %ld of %ld samples are not finite: the chain diverged (a smaller "
        "--step-size, or mala, keeps it)\n",
        static_cast<long>(bad), static_cast<long>(n));

  if (ends_with(out, ".npy"))
    write_npy(out, x);
  else  // the samples (blue) over as many exact samples (grey)
    write_scatter(out, x, t.exact_samples(n, seed ^ kReferenceSeed));
  std::printf("wrote %s\n", out.c_str());
  if (!trajectory.empty()) {
    write_trajectories(trajectory, frames);
    std::printf("wrote %s\n", trajectory.c_str());
  }
  if (!field.empty()) {
    double time = flags.get_float("field-time");
    if (time < 0) time = den->process().t_min();
    write_score_field(field, *den, time, x);
    std::printf("wrote %s\n", field.c_str());
  }
  if (!s.check.empty()) std::printf("%s", check_report(x, s.check, seed).c_str());
  return 0;
}

}  // namespace mindiff::diffusion
