// sample(): option checks, default step counts, and dispatch by name to the sampler families
// (sample_ddpm.cpp, sample_sde.cpp, sample_ode.cpp, sample_dpm.cpp, and langevin.h).
//
// Default step counts (SamplerOptions::steps = 0), chosen so that with exact scores each sampler
// is converged to well below the sampling error of a few thousand samples:
//
//   ancestral        every training step of the DDPM process (1000 for ddpm-linear/-cosine)
//   ddim             50 (Song, Meng, Ermon 2021 use 20-100)
//   euler-maruyama   1000
//   pc               500 predictor steps, each followed by corrector_steps corrections
//   ode-euler        500
//   ode-heun         100 (200 evaluations)
//   ode-rk45         adaptive; `steps` caps the step attempts per sample (default 1000), so a
//                    tolerance that cannot be met ends in an error instead of a hang
//   dpm-solver++     20
//   edm-heun         18 (35 evaluations: Karras et al.'s CIFAR-10 setting)
//   edm-stochastic   18
//   Langevin family  langevin.cpp resolves steps = 0 itself; the table repeats its defaults for
//                    sampler_default_steps: langevin 1000, annealed-langevin 100 per noise level,
//                    walk-jump 1000, multi-measurement 250 per measurement
#include <cmath>

#include "autograd/node.h"
#include "diffusion/langevin.h"
#include "diffusion/sampler_impl.h"

namespace mindiff::diffusion {

namespace {

struct SamplerEntry {
  const char* name;
  int default_steps;
  SampleResult (*fn)(const Denoiser&, const Shape&, const SamplerOptions&);
  bool diffusion;  // a diffusion sampler of this file family (steps resolved and checked here)
};

const std::vector<SamplerEntry>& entries() {
  static const std::vector<SamplerEntry> table = {
      {"ancestral", 1000, detail::sample_ancestral, true},
      {"ddim", 50, detail::sample_ddim, true},
      {"euler-maruyama", 1000, detail::sample_euler_maruyama, true},
      {"pc", 500, detail::sample_pc, true},
      {"ode-euler", 500, detail::sample_ode_euler, true},
      {"ode-heun", 100, detail::sample_ode_heun, true},
      {"ode-rk45", 1000, detail::sample_ode_rk45, true},
      {"dpm-solver++", 20, detail::sample_dpm_solver_pp, true},
      {"edm-heun", 18, detail::sample_edm_heun, true},
      {"edm-stochastic", 18, detail::sample_edm_stochastic, true},
      {"annealed-langevin", 100, annealed_langevin, false},
      {"langevin", 1000, langevin_on_denoiser, false},
      {"walk-jump", 1000, walk_jump, false},
      {"multi-measurement", 250, multi_measurement, false},
  };
  return table;
}

std::string known_names() {
  std::string s;
  for (const SamplerEntry& e : entries()) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

const SamplerEntry& find_entry(const std::string& name) {
  for (const SamplerEntry& e : entries())
    if (name == e.name) return e;
  throw Error("unknown sampler '" + name + "' (known: " + known_names() + ")");
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

// Options that make no sense for any sampler, checked whichever sampler runs, so a typo on the
// command line is never silently ignored.
void validate(const std::string& name, const Shape& shape, const SamplerOptions& o) {
  MD_CHECK(shape.ndim() >= 1 && shape[0] >= 1 && shape.numel() >= 1, name, ": shape ",
           shape.str(), " holds no samples (need [N, ...] with N >= 1)");
  MD_CHECK(o.steps >= 0, name, ": steps must be positive (0 for the default of ",
           sampler_default_steps(name), "), got ", o.steps);
  MD_CHECK(std::isfinite(o.eta) && o.eta >= 0 && o.eta <= 1, name,
           ": eta must be in [0, 1] (0 deterministic DDIM, 1 ancestral-like), got ", o.eta);
  MD_CHECK(positive_finite(o.snr), name, ": the corrector snr must be > 0, got ", o.snr);
  MD_CHECK(o.corrector_steps >= 0, name, ": corrector_steps must be >= 0, got ",
           o.corrector_steps);
  MD_CHECK(positive_finite(o.rtol), name, ": rtol must be > 0, got ", o.rtol);
  MD_CHECK(positive_finite(o.atol), name, ": atol must be > 0, got ", o.atol);
  MD_CHECK(positive_finite(o.rho), name, ": rho must be > 0, got ", o.rho);
  MD_CHECK(std::isfinite(o.s_churn) && o.s_churn >= 0, name, ": S_churn must be >= 0, got ",
           o.s_churn);
  MD_CHECK(std::isfinite(o.s_tmin) && std::isfinite(o.s_tmax) && 0 <= o.s_tmin &&
               o.s_tmin <= o.s_tmax,
           name, ": need 0 <= S_tmin <= S_tmax, got ", o.s_tmin, " and ", o.s_tmax);
  MD_CHECK(positive_finite(o.s_noise), name, ": S_noise must be > 0, got ", o.s_noise);
  MD_CHECK(o.trajectory_frames >= 0, name, ": trajectory_frames must be >= 0, got ",
           o.trajectory_frames);
  MD_CHECK(o.first_index >= 0, name, ": first_index must be >= 0, got ", o.first_index);
}

}  // namespace

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const SamplerEntry& e : entries()) names.push_back(e.name);
  return names;
}

int sampler_default_steps(const std::string& sampler) { return find_entry(sampler).default_steps; }

std::string default_sampler(const Process& process) {
  if (dynamic_cast<const DiscreteDDPM*>(&process)) return "ddim";
  if (dynamic_cast<const EDMProcess*>(&process)) return "edm-heun";
  return "dpm-solver++";
}

void check_sampler_name(const std::string& name, const char* flag) {
  for (const SamplerEntry& e : entries())
    if (name == e.name) return;
  throw Error(std::string(flag) + " " + name + ": unknown sampler (known: " + known_names() + ")");
}

SampleResult sample(const std::string& sampler, const Denoiser& denoiser, const Shape& shape,
                    const SamplerOptions& options) {
  const SamplerEntry& entry = find_entry(sampler);
  validate(sampler, shape, options);
  NoGradGuard no_grad;
  if (!entry.diffusion) return entry.fn(denoiser, shape, options);

  SamplerOptions o = options;
  if (sampler == "ancestral" || sampler == "ddim") {
    // Both walk the training steps of a discrete DDPM; any other process has none.
    const auto* ddpm = dynamic_cast<const DiscreteDDPM*>(&denoiser.process());
    MD_CHECK(ddpm, sampler, ": needs a discrete DDPM process (ddpm-linear or ddpm-cosine), but the "
             "denoiser's process is '", denoiser.process().name(), "'; use euler-maruyama, pc, "
             "ode-* or dpm-solver++ for continuous processes");
    if (o.steps == 0) o.steps = sampler == "ancestral" ? ddpm->steps() : entry.default_steps;
    MD_CHECK(o.steps <= ddpm->steps(), sampler, ": ", o.steps, " steps exceed the ",
             ddpm->steps(), " training steps of process '", ddpm->name(), "'");
  } else if (o.steps == 0) {
    o.steps = entry.default_steps;
  }
  return entry.fn(denoiser, shape, o);
}

}  // namespace mindiff::diffusion
