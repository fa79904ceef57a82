// langevin and mala: one Langevin chain (langevin_walk.h) on one density, the first sampler of
// Peyre's section 1 and Bach's talk, and its Metropolis-adjusted form (Roberts & Tweedie 1996).
//
// The density is either q_s, the density of X + s N at the level s = sigma of a denoiser
// (default kWalkLevel), or e^{-f} of an energy (energy.h). The chain starts at the level by
// chain_start (langevin_walk.h: a descent of the probability-flow ODE by default, or noise of std
// S = sqrt(1 + s^2)), or for an energy from N(0, start_std^2 I) (draw 0); it takes `steps` steps
// and returns its state: samples of X + s N (with denoise_final, E[X | y] instead: one more
// evaluation, which makes it walk-jump). Defaults: the walk rules of langevin_walk.h at
// (s, S), with s the level and S = sqrt(1 + s^2), or the energy's smallest and largest scales.
//
// Why kWalkLevel = 0.1 and not the process's smallest level (0.01 for ve): with the step
// kOverdampedStep s^2 that is safe on every density, a direction of the data of std 1 needs
// 1 / (kOverdampedStep s^2) steps to relax, 20,000 at s = 0.01 and 200 at s = 0.1; and the samples
// of X + 0.1 N have each mode's std sqrt(v + 0.01) for v the data's: 2% too wide on the ring's
// modes (std 0.5), 0.5% on modes of std 1.
//
// Evaluations: the descent's kDescentSteps, then steps (+ 1 for the underdamped walk's first
// score; for mala, one score and one log-density per step, + 1 log-density at the start).
#include <cmath>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

bool is_mala(const std::string& sampler) { return sampler == "mala"; }

// The chain's smallest and largest scales.
struct Scales {
  double s = 0, S = 0;
};

Scales chain_scales(const SamplerOptions& o, const Energy* energy) {
  if (energy) return {energy->smallest_scale(), energy->largest_scale()};
  return {o.sigma, level_spread(o.sigma)};
}

}  // namespace

void resolve_langevin(SamplerOptions& o, const ResolveContext& c) {
  if (c.energy) {
    MD_CHECK(o.sigma == 0, c.sampler, ": an energy has no noise levels, so sigma (", o.sigma,
             ") does not apply");
    MD_CHECK(!o.denoise_final, c.sampler, ": an energy has no noise to remove (denoise_final)");
  } else {
    if (o.sigma == 0) o.sigma = kWalkLevel;
    noise_level(*c.process, o.sigma, std::string(c.sampler) + ": sigma");
  }
  const Scales sc = chain_scales(o, c.energy);
  const WalkRule rule = walk_rule(o.walk, is_mala(c.sampler), sc.s, sc.S, o);
  o.step_size = rule.step;
  o.friction = rule.friction;
  if (o.steps == 0) o.steps = walk_steps(rule, sc.S, walk_relaxations(o));
}

namespace {

SampleResult run_chain(SamplerRun& run, bool metropolis) {
  const SamplerOptions& o = run.options();
  const char* who = metropolis ? "mala" : "langevin";
  const Energy* energy = run.energy();
  const Scales sc = chain_scales(o, energy);
  const int first = start_steps(o);  // the trajectory's steps before the walk
  Trajectory traj(o.trajectory_frames, first + o.steps + (o.denoise_final ? 1 : 0));
  WalkDensity q;
  NoiseLevel level;
  Tensor start;
  if (energy) {
    q = energy_density(run);
    start = run.noise(0) * static_cast<float>(energy->start_std());
  } else {
    level = run.level(o.sigma, who);
    q = level_density(run, level);
    start = chain_start(run, level, sc.S, traj);
  }
  MD_CHECK(!metropolis || q.log_density, who,
           ": needs a log-density (an exact target or an energy)");
  LangevinChain chain(run, walk_rule(o.walk, metropolis, sc.s, sc.S, o), start);
  traj.record(first, chain.y());
  for (int k = 0; k < o.steps; ++k) {
    chain.step(q);
    traj.record(first + k + 1, chain.y());
  }
  const Tensor x = o.denoise_final ? run.denoise_at(chain.y(), level) : chain.y();
  SampleResult r = finish(run, x, traj);
  if (metropolis) r.acceptance = static_cast<double>(chain.accepted()) / chain.proposed();
  return r;
}

}  // namespace

SampleResult sample_langevin(SamplerRun& run) { return run_chain(run, false); }
SampleResult sample_mala(SamplerRun& run) { return run_chain(run, true); }

}  // namespace mindiff::diffusion::detail
