// `sample --target`, `--likelihood` and `--check` (sample_target.h).
#include "diffusion/app/sample_target.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "data/image_io.h"
#include "data/open.h"
#include "data/toy2d.h"
#include "diffusion/app/preview.h"
#include "diffusion/likelihood_report.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/sample_check.h"
#include "diffusion/targets.h"
#include "nn/checkpoint.h"
#include "nn/embedding.h"

namespace mindiff::diffusion {

namespace {

constexpr int kCheckRepeats = 50;     // exact pairs behind a --check threshold not in the table
constexpr int kBoundTimesteps = 100;  // DDPM bound: one term per stratum (unbiased; BoundOptions)
constexpr int64_t kTargetLikelihoodBatch = 1024;  // points per ODE solve of an exact target
// Exact draws to compare with (--check, the grey points of a scatter plot, likelihoods), apart
// from the noise --seed gives the sampler.
constexpr uint64_t kReferenceSeed = 0x5eed0f7e57ull;

// The exact samples and the modes of a --check name: a target, or a 2-D toy set.
struct Reference {
  std::function<Tensor(int64_t, uint64_t)> exact;
  std::optional<GaussianMixture> modes;
};

Reference reference_of(const std::string& name) {
  Reference r;
  for (const std::string& toy : toy2d_names())
    if (name == toy && name != "gmm8" && name != "ring") {  // those two are targets too
      r.exact = [name](int64_t n, uint64_t seed) { return toy2d(name, n, seed); };
      return r;
    }
  const ExactTarget t = make_target(name);
  r.exact = [t](int64_t n, uint64_t seed) { return t.exact_samples(n, seed); };
  if (t.modes()) r.modes = *t.modes();
  return r;
}

LikelihoodSettings likelihood_settings(const SampleSettings& s) {
  LikelihoodSettings ls;
  ls.trace = s.trace;
  ls.probes = static_cast<int>(s.probes);
  ls.steps = static_cast<int>(s.likelihood_steps);
  ls.bound_timesteps = kBoundTimesteps;
  ls.seed = static_cast<uint64_t>(s.seed);
  return ls;
}

// --likelihood of a mixture target: the ODE's estimate beside the exact log-density at t_min.
int print_target_likelihood(const ExactTarget& t, const MixtureDenoiser& den,
                            const SampleSettings& s) {
  const uint64_t seed = static_cast<uint64_t>(s.seed) ^ kReferenceSeed;
  const Tensor points = t.exact_samples(s.likelihood_n, seed);
  const Process& p = den.process();
  auto exact = [&](const Tensor& x) {
    return t.mixture->log_density(x, p.alpha(p.t_min()), p.sigma(p.t_min()));
  };
  LikelihoodSettings ls = likelihood_settings(s);
  ls.batch = std::min<int64_t>(s.batch, kTargetLikelihoodBatch);
  const std::string what = std::to_string(s.likelihood_n) + " exact samples of " + s.target;
  std::printf("%s", likelihood_report(den, points, what, ls, exact).c_str());
  return 0;
}

struct TargetDraw {
  Tensor x;                    // [n, D]
  std::vector<Tensor> frames;  // the first batch's trajectory
  int64_t evaluations = 0;     // per batch (the mean over batches: ode-rk45's vary)
  int64_t accepted = 0;        // mala: proposals accepted, over all samples
};

// Samples in batches of --batch whose noise is fixed by the sample index, as for a network.
TargetDraw draw_target(const ExactTarget& t, const MixtureDenoiser* den, const SampleSettings& s,
                       const SamplerChoice& c) {
  TargetDraw out;
  SamplerOptions options = c.options;
  std::vector<Tensor> parts;
  for (int64_t first = 0; first < s.n; first += s.batch) {
    const int64_t count = std::min(s.batch, s.n - first);
    options.first_index = first;
    const Shape shape({count, t.dim()});
    const SampleResult r = den ? sample(c.name, *den, shape, options)
                               : sample(c.name, *t.energy, shape, options);
    out.evaluations += r.evaluations;
    if (r.acceptance >= 0) out.accepted += static_cast<int64_t>(std::llround(r.acceptance * count));
    parts.push_back(r.x);
    if (first == 0) out.frames = r.trajectory;
  }
  out.x = parts.size() == 1 ? parts[0] : concat(parts, 0);
  out.evaluations /= static_cast<int64_t>(parts.size());
  return out;
}

// The samples (a scatter plot over as many exact samples in grey, or .npy), the trajectory and
// the score field; a chain that diverged is written as it is, with a warning.
void write_target_outputs(const ExactTarget& t, const MixtureDenoiser* den,
                          const SampleSettings& s, const TargetDraw& d) {
  if (const int64_t bad = non_finite_rows(d.x))
    std::printf("warning: %ld of %ld samples are not finite: the chain diverged (a smaller "
                "--step-size, or mala, keeps it)\n",
                static_cast<long>(bad), static_cast<long>(s.n));
  if (settings::ends_with(s.out, ".npy"))
    write_npy(s.out, d.x);
  else
    write_scatter(s.out, d.x,
                  t.exact_samples(s.n, static_cast<uint64_t>(s.seed) ^ kReferenceSeed));
  std::printf("wrote %s\n", s.out.c_str());
  if (!s.trajectory.empty()) {
    write_trajectories(s.trajectory, d.frames);
    std::printf("wrote %s\n", s.trajectory.c_str());
  }
  if (!s.score_field.empty()) {
    const double time = s.field_time < 0 ? den->process().t_min() : s.field_time;
    write_score_field(s.score_field, *den, time, d.x);
    std::printf("wrote %s\n", s.score_field.c_str());
  }
}

}  // namespace

void check_reference_name(const std::string& name) { reference_of(name); }

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

void print_model_likelihood(const LoadedModel& model, const SampleSettings& s) {
  const nn::Checkpoint ck = nn::load_checkpoint(model.path);
  const auto it = ck.extras.find("data");
  MD_CHECK(it != ck.extras.end(), "--likelihood: ", model.path, " does not record its data set");
  const std::string data = it->second;
  LikelihoodSettings ls = likelihood_settings(s);
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
  const NetworkDenoiser den(model.net->model_fn(nullptr), model.kind, model.process, no_class);
  std::printf("%s", likelihood_report(den, points, what, ls).c_str());
}

int sample_target_command(const SampleSettings& s) {
  const ExactTarget t = make_target(s.target);  // validate() has checked every setting against it
  std::unique_ptr<MixtureDenoiser> den;
  if (t.mixture) den = std::make_unique<MixtureDenoiser>(*t.mixture, make_process(s.schedule));
  if (s.likelihood) return print_target_likelihood(t, *den, s);

  // ---- the sampler: an energy's is langevin; a mixture's the default of its points ----
  const DefaultSampler fallback =
      den ? default_sampler(den->process(), Shape({t.dim()})) : DefaultSampler{"langevin", 0};
  const SamplerChoice c = choose_sampler(s, fallback, Device::CPU);
  const SamplerOptions resolved = den ? resolve_options(c.name, *den, c.options)
                                      : resolve_options(c.name, *t.energy, c.options);
  std::printf("sampling %ld from the exact target %s%s\n  %s\n", static_cast<long>(s.n),
              s.target.c_str(), den ? (" (process " + s.schedule + ")").c_str() : "",
              describe_options(c.name, resolved).c_str());

  // ---- sample, write, check ----
  NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  const TargetDraw d = draw_target(t, den.get(), s, c);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sampled %ld in %.2f s (%ld evaluations per batch)\n", static_cast<long>(s.n),
              seconds, static_cast<long>(d.evaluations));
  if (needs_log_density(c.name))
    std::printf("mala accepted %.1f%% of its proposals\n", 100.0 * d.accepted / s.n);
  write_target_outputs(t, den.get(), s, d);
  if (!s.check.empty())
    std::printf("%s", check_report(d.x, s.check, static_cast<uint64_t>(s.seed)).c_str());
  return 0;
}

}  // namespace mindiff::diffusion
