// sample(): the table of samplers, the resolution of their defaults, the checks of every option,
// and the dispatch to the sampler's file. A new sampler is one sample_*.cpp file (its run
// function, and a resolve function when its defaults follow a rule), one row below, and its
// tests.
//
// Default step counts, chosen so that with exact scores each sampler is converged to well below
// the sampling error of 2000 samples: tests/test_sampler_acceptance.cpp checks every default on
// the 8-Gaussian ring and on two Gaussians in 16 dimensions, where 2000 samples resolve the spread
// of a component to 1.3% (the exact-versus-exact 95th percentile). Figures below are from the
// 16-D mixture, seeds 11-13, process ddpm-linear:
//
//   ancestral        every training step of the DDPM process (1000 for ddpm-linear/-cosine)
//   ddim             500. DDIM's step is first order and shrinks the samples: on data of unit
//                    variance each step multiplies x by cos(theta_t - theta_s), abar = cos^2 theta.
//                    At 50 steps (Song, Meng & Ermon use 20-100) the components came out 3-3.5%
//                    too narrow (2.6-2.8 times the percentile), at 100 1.2-1.9%, at 200 0.5-1.4%
//                    (up to 1.6 times). `sample` defaults to dpm-solver++ (default_sampler in
//                    sampler.h), second order, which is as accurate at its 50 steps
//   euler-maruyama   1000
//   pc               500 predictor steps, each followed by corrector_steps corrections
//   ode-euler        500
//   ode-heun         100 (200 evaluations)
//   ode-rk45         adaptive; `steps` caps the step attempts per sample (default 1000), so a
//                    tolerance that cannot be met ends in an error instead of a hang
//   dpm-solver++     50. At 20 (Lu et al.'s setting for images) the components came out 1.3-2%
//                    too wide (up to 1.6 times the percentile); at 50 within 0.7%
//   edm-heun         50. At Karras et al.'s 18 (35 evaluations, their CIFAR-10 setting) the
//                    components came out 4.7-5.4% too wide (4 times the percentile). Image
//                    models under the EDM process take 18 when edm-heun is their default
//                    (default_sampler in sampler.h: the 35-evaluation budget of images)
//   edm-stochastic   100, with S_churn 10 and S_noise 1 (sample_edm.cpp says why)
//   stochastic-localization  1000 (sample_localization.cpp)
//   Langevin family  the walk rules of langevin_walk.h (each sampler's file resolves its own)
#include "diffusion/sampler.h"

#include <cmath>
#include <sstream>

#include "autograd/node.h"
#include "diffusion/langevin_walk.h"
#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion {

namespace {

using detail::SamplerRun;

enum class Needs {
  Process,       // any forward process
  DiscreteDDPM,  // the training steps of a DiscreteDDPM
  AnyDensity,    // a process, or an energy (langevin)
  LogDensity,    // an exact target's or an energy's log-density (mala)
};

struct SamplerEntry {
  const char* name;
  SampleResult (*fn)(SamplerRun&);
  detail::Resolver resolve;  // fills the defaults that follow a rule (nullptr: none)
  Needs needs;
  int default_steps;  // 0: the sampler's resolve function sets it from its rule
  Walk walk;          // chains: their walk (Walk::Default for the others)
  // The options whose 0 means "default" that the sampler reads (besides steps); setting any
  // other is an error, so that a flag meant for another sampler is never silently ignored.
  const char* reads;
};

const std::vector<SamplerEntry>& entries() {
  using namespace detail;
  using N = Needs;
  using W = Walk;
  // name, run, resolve (nullptr: none), needs, default steps (0: by the resolve rule), walk,
  // the 0-default options it reads
  static const std::vector<SamplerEntry> table = {
      {"ancestral", sample_ancestral, resolve_ddpm_chain, N::DiscreteDDPM, 0, W::Default, ""},
      {"ddim", sample_ddim, resolve_ddpm_chain, N::DiscreteDDPM, 500, W::Default, ""},
      {"euler-maruyama", sample_euler_maruyama, nullptr, N::Process, 1000, W::Default, ""},
      {"pc", sample_pc, nullptr, N::Process, 500, W::Default, ""},
      {"ode-euler", sample_ode_euler, nullptr, N::Process, 500, W::Default, ""},
      {"ode-heun", sample_ode_heun, nullptr, N::Process, 100, W::Default, ""},
      {"ode-rk45", sample_ode_rk45, nullptr, N::Process, 1000, W::Default, ""},
      {"dpm-solver++", sample_dpm_solver_pp, nullptr, N::Process, 50, W::Default, ""},
      {"edm-heun", sample_edm_heun, nullptr, N::Process, 50, W::Default, ""},
      {"edm-stochastic", sample_edm_stochastic, resolve_edm_stochastic, N::Process, 100,
       W::Default, "s_churn"},
      {"stochastic-localization", sample_stochastic_localization,
       resolve_stochastic_localization, N::Process, 0, W::Default, "sigma_max sigma_min"},
      {"langevin", sample_langevin, resolve_langevin, N::AnyDensity, 0, W::Overdamped,
       "sigma start step_size friction"},
      {"mala", sample_mala, resolve_langevin, N::LogDensity, 0, W::Overdamped,
       "sigma start step_size"},
      {"annealed-langevin", sample_annealed_langevin, resolve_annealed_langevin, N::Process, 0,
       W::Overdamped, "levels sigma_max sigma_min step_size friction"},
      {"walk-jump", sample_walk_jump, resolve_walk_jump, N::Process, 0, W::Underdamped,
       "sigma start step_size friction"},
      {"multi-measurement", sample_multi_measurement, resolve_multi_measurement, N::Process, 0,
       W::Underdamped, "sigma start measurements measurement_steps step_size friction"},
      {"jms", sample_joint_multi_measurement, resolve_joint_multi_measurement, N::Process, 0,
       W::Underdamped, "sigma start measurements step_size friction"},
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

// The names of the enums of SamplerOptions (each one's Default, unnamed here, is "default").
template <class E>
struct NamedValue {
  E value;
  const char* name;
};
constexpr NamedValue<Walk> kWalkNames[] = {{Walk::Overdamped, "overdamped"},
                                           {Walk::Underdamped, "underdamped"}};
constexpr NamedValue<ChainStart> kChainStartNames[] = {{ChainStart::Noise, "noise"},
                                                       {ChainStart::Descent, "descent"}};

// The value named `name`, or an Error "unknown WHAT 'name' (a, b or c)".
template <class E, size_t N>
E parse_named(const NamedValue<E> (&values)[N], const char* what, const std::string& name) {
  std::string known;
  for (size_t i = 0; i < N; ++i) {
    if (name == values[i].name) return values[i].value;
    known += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(values[i].name);
  }
  throw Error(std::string("unknown ") + what + " '" + name + "' (" + known + ")");
}

template <class E, size_t N>
std::string name_of(const NamedValue<E> (&values)[N], E value) {
  for (const NamedValue<E>& v : values)
    if (v.value == value) return v.name;
  return "default";
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }
bool non_negative_finite(double v) { return std::isfinite(v) && v >= 0; }

// Options that make no sense for any sampler, checked whichever sampler runs, so a typo on the
// command line is never silently ignored (0 keeps meaning "the default" where it does).
void validate(const std::string& name, const Shape& shape, const SamplerOptions& o) {
  MD_CHECK(shape.ndim() >= 2 && shape[0] >= 1 && shape.numel() >= 1, name, ": shape ", shape.str(),
           " holds no samples (need [N, ...] with N >= 1)");
  MD_CHECK(o.steps >= 0, name, ": steps must be positive (0 for the default), got ", o.steps);
  MD_CHECK(std::isfinite(o.eta) && o.eta >= 0 && o.eta <= 1, name,
           ": eta must be in [0, 1] (0 deterministic DDIM, 1 ancestral-like), got ", o.eta);
  MD_CHECK(positive_finite(o.snr), name, ": the corrector snr must be > 0, got ", o.snr);
  MD_CHECK(o.corrector_steps >= 0, name, ": corrector_steps must be >= 0, got ", o.corrector_steps);
  MD_CHECK(positive_finite(o.rtol), name, ": rtol must be > 0, got ", o.rtol);
  MD_CHECK(positive_finite(o.atol), name, ": atol must be > 0, got ", o.atol);
  MD_CHECK(positive_finite(o.rho), name, ": rho must be > 0, got ", o.rho);
  MD_CHECK(non_negative_finite(o.s_churn), name, ": S_churn must be >= 0, got ", o.s_churn);
  MD_CHECK(
      std::isfinite(o.s_tmin) && std::isfinite(o.s_tmax) && 0 <= o.s_tmin && o.s_tmin <= o.s_tmax,
      name, ": need 0 <= S_tmin <= S_tmax, got ", o.s_tmin, " and ", o.s_tmax);
  MD_CHECK(positive_finite(o.s_noise), name, ": S_noise must be > 0, got ", o.s_noise);
  MD_CHECK(non_negative_finite(o.step_size), name,
           ": the Langevin step size must be > 0 (0 for the default rule), got ", o.step_size);
  MD_CHECK(non_negative_finite(o.friction), name,
           ": the friction must be > 0 (0 for the default rule), got ", o.friction);
  MD_CHECK(non_negative_finite(o.sigma), name, ": sigma must be > 0 (0 for the default), got ",
           o.sigma);
  MD_CHECK(o.measurements >= 0, name, ": measurements must be >= 1 (0 for the default), got ",
           o.measurements);
  MD_CHECK(o.measurement_steps >= 0, name,
           ": measurement_steps must be >= 1 (0 for the default), got ", o.measurement_steps);
  MD_CHECK(o.levels >= 0 && o.levels != 1, name, ": levels must be >= 2 (0 for the default), got ",
           o.levels);
  MD_CHECK(non_negative_finite(o.sigma_max) && non_negative_finite(o.sigma_min), name,
           ": sigma_max and sigma_min must be > 0 (0 for the process's range), got ", o.sigma_max,
           " and ", o.sigma_min);
  MD_CHECK(o.sigma_max == 0 || o.sigma_min == 0 || o.sigma_min < o.sigma_max, name,
           ": need sigma_min < sigma_max, got ", o.sigma_min, " and ", o.sigma_max);
  MD_CHECK(o.trajectory_frames >= 0, name, ": trajectory_frames must be >= 0, got ",
           o.trajectory_frames);
  MD_CHECK(o.first_index >= 0, name, ": first_index must be >= 0, got ", o.first_index);
}

SamplerOptions resolve(const SamplerEntry& e, const Process* process, const Energy* energy,
                       const SamplerOptions& options) {
  const std::string name = e.name;
  if (energy) {
    MD_CHECK(e.needs == Needs::AnyDensity || e.needs == Needs::LogDensity, name,
             ": needs a denoiser (noise levels of a forward process); a density given by its "
             "energy is sampled by langevin or mala");
  }
  // Every 0-default option that is set must be one the sampler reads.
  const std::vector<std::pair<const char*, double>> set_options = {
      {"s_churn", options.s_churn},     {"sigma", options.sigma},
      {"measurements", double(options.measurements)},
      {"measurement_steps", double(options.measurement_steps)},
      {"levels", double(options.levels)}, {"sigma_max", options.sigma_max},
      {"sigma_min", options.sigma_min},   {"step_size", options.step_size},
      {"friction", options.friction}};
  const std::string reads = std::string(" ") + e.reads + " ";
  auto takes = [&](const char* option) {
    return reads.find(std::string(" ") + option + " ") != std::string::npos;
  };
  const char* its_options = *e.reads ? e.reads : "steps and the general ones";
  for (const auto& [option, value] : set_options)
    MD_CHECK(value == 0 || takes(option), name, ": does not take ", option, " (", value,
             "); its options: ", its_options);
  MD_CHECK(options.start == ChainStart::Default || takes("start"), name,
           ": does not take a chain start (", chain_start_name(options.start),
           "); its options: ", its_options);
  SamplerOptions o = options;
  if (takes("start")) {
    if (o.start == ChainStart::Default) o.start = energy ? ChainStart::Noise : ChainStart::Descent;
    MD_CHECK(!energy || o.start == ChainStart::Noise, name,
             ": an energy has no noise levels to descend, so its chain starts from noise");
  }
  if (o.walk == Walk::Default) o.walk = e.walk;
  MD_CHECK(o.friction == 0 || o.walk == Walk::Underdamped, name,
           ": the friction applies to the underdamped walk, not the ", walk_name(o.walk), " one");
  MD_CHECK(e.walk != Walk::Default || o.walk == Walk::Default, name,
           ": takes no walk (only the Langevin family does), got ", walk_name(o.walk));
  MD_CHECK(e.needs != Needs::LogDensity || o.walk == Walk::Overdamped, name,
           ": the Metropolis-adjusted chain is overdamped, got walk ", walk_name(o.walk));
  if (o.steps == 0) o.steps = e.default_steps;
  if (e.resolve) e.resolve(o, detail::ResolveContext{e.name, process, energy});
  MD_CHECK(o.steps > 0, name, ": resolved to ", o.steps, " steps");
  return o;
}

}  // namespace

Walk parse_walk(const std::string& name) { return parse_named(kWalkNames, "walk", name); }
std::string walk_name(Walk walk) { return name_of(kWalkNames, walk); }

ChainStart parse_chain_start(const std::string& name) {
  return parse_named(kChainStartNames, "chain start", name);
}
std::string chain_start_name(ChainStart start) { return name_of(kChainStartNames, start); }

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const SamplerEntry& e : entries()) names.push_back(e.name);
  return names;
}

bool is_sampler(const std::string& name) {
  for (const SamplerEntry& e : entries())
    if (name == e.name) return true;
  return false;
}

bool needs_log_density(const std::string& sampler) {
  return find_entry(sampler).needs == Needs::LogDensity;
}

bool runs_on_energy(const std::string& sampler) {
  const Needs n = find_entry(sampler).needs;
  return n == Needs::AnyDensity || n == Needs::LogDensity;
}

int sampler_default_steps(const std::string& sampler) { return find_entry(sampler).default_steps; }

SamplerOptions resolve_options(const std::string& sampler, const Denoiser& denoiser,
                               const SamplerOptions& options) {
  const SamplerEntry& e = find_entry(sampler);
  MD_CHECK(e.needs != Needs::LogDensity || denoiser.has_log_density(), sampler,
           ": needs the log-density of its target, which a network does not give (use an "
           "exact target or an energy)");
  return resolve(e, &denoiser.process(), nullptr, options);
}

SamplerOptions resolve_options(const std::string& sampler, const Energy& energy,
                               const SamplerOptions& options) {
  return resolve(find_entry(sampler), nullptr, &energy, options);
}

DefaultSampler default_sampler(const Process& process, const Shape& sample_shape) {
  constexpr int kImageEdmSteps = 18;  // 35 evaluations: the budget of sampler.h
  const bool images = sample_shape.ndim() == 3;  // [C, H, W]
  if (images && dynamic_cast<const EDMProcess*>(&process)) return {"edm-heun", kImageEdmSteps};
  return {"dpm-solver++", 0};
}

void check_sampler_name(const std::string& name, const char* flag) {
  for (const SamplerEntry& e : entries())
    if (name == e.name) return;
  throw Error(std::string(flag) + " " + name + ": unknown sampler (known: " + known_names() + ")");
}

SampleResult sample(const std::string& sampler, const Denoiser& denoiser, const Shape& shape,
                    const SamplerOptions& options) {
  const SamplerEntry& e = find_entry(sampler);
  validate(sampler, shape, options);
  const SamplerOptions o = resolve_options(sampler, denoiser, options);
  NoGradGuard no_grad;
  SamplerRun run(denoiser, shape, o);
  return e.fn(run);
}

SampleResult sample(const std::string& sampler, const Energy& energy, const Shape& shape,
                    const SamplerOptions& options) {
  const SamplerEntry& e = find_entry(sampler);
  validate(sampler, shape, options);
  MD_CHECK(shape.ndim() == 2 && shape[1] == energy.dim(), sampler, ": the energy ", energy.name(),
           " is ", energy.dim(), "-dimensional; shape ", shape.str());
  const SamplerOptions o = resolve_options(sampler, energy, options);
  NoGradGuard no_grad;
  SamplerRun run(energy, shape, o);
  return e.fn(run);
}

std::string describe_options(const std::string& sampler, const SamplerOptions& o) {
  const SamplerEntry& e = find_entry(sampler);
  std::ostringstream s;
  s << sampler << ": " << o.steps << " steps";
  if (sampler == "ddim") s << ", eta " << o.eta;
  if (sampler == "pc") s << ", snr " << o.snr << ", " << o.corrector_steps << " corrector steps";
  if (sampler == "ode-rk45") s << " at most, rtol " << o.rtol << ", atol " << o.atol;
  if (sampler == "edm-heun" || sampler == "edm-stochastic") s << ", rho " << o.rho;
  if (sampler == "edm-stochastic")
    s << ", S_churn " << o.s_churn << " in [" << o.s_tmin << ", " << o.s_tmax << "], S_noise "
      << o.s_noise;
  if (e.walk != Walk::Default) {
    s << ", " << walk_name(o.walk) << " walk, step " << o.step_size;
    if (o.walk == Walk::Underdamped) s << ", friction " << o.friction;
  }
  if (o.sigma > 0) s << ", sigma " << o.sigma;
  if (o.start == ChainStart::Noise) s << ", started from noise";
  if (o.start == ChainStart::Descent)
    s << ", started by a descent of " << detail::kDescentSteps << " DPM-Solver++ steps";
  if (o.measurements > 0) s << ", m " << o.measurements;
  if (o.measurement_steps > 0) s << ", " << o.measurement_steps << " steps per later measurement";
  if (o.levels > 0) s << ", " << o.levels << " levels";
  if (o.sigma_max > 0) s << " from " << o.sigma_max << " to " << o.sigma_min;
  if (o.denoise_final) s << ", denoised at the end";
  return s.str();
}

}  // namespace mindiff::diffusion
