// annealed-langevin: annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1; Liu, sec. 1.2) in
// the convention of langevin_walk.h, ended by one Tweedie jump (Song & Ermon 2020, "Improved
// techniques for training score-based generative models", and Jolicoeur-Martineau et al. 2021:
// the denoising step at the end).
//
// Levels sigma_1 > ... > sigma_L, geometric from sigma_max to sigma_min (defaults: L = 10, as
// NCSN, from the process's largest level, 50 for ve, down to kWalkLevel = 0.1, or the process's
// smallest when that is larger). At level i, `steps` (T) steps of the walk on q_{sigma_i}, the
// density of X + sigma_i N:
//
//   overdamped   gamma_i = gamma_L sigma_i^2 / sigma_L^2, with gamma_L = step_size: NCSN's
//                alpha_i = eps sigma_i^2 / sigma_L^2 with eps = 2 gamma_L (langevin_walk.h);
//                default gamma_L = kOverdampedStep sigma_L^2, the walk rule at every level
//   underdamped  h_i = h_L sigma_i / sigma_L, friction 2 / sqrt(1 + sigma_i^2) at each level
//                (or the friction given), h_L = step_size (default kUnderdampedStep sigma_L)
//
// Starts from N(0, (1 + sigma_1^2) I) (draw 0) and returns E[X | y] at sigma_L for the chain's
// last y: its resolve turns denoise_final on, whatever the options say.
//
// Why stop at 0.1 and jump, rather than walk down to the process's smallest level (0.01 for ve):
// a network's score at a small level s is learned from a regression target whose signal,
// s |grad log p|, is small against its unit noise, so it is the least accurate score the chain
// uses; and the chain spends most of its steps there. Walking down to 0.01 on networks trained with
// the 2-D defaults gave gmm8's modes spreads 4.4 times the exact percentile off; stopping at 0.1 and
// jumping brought them within it (docs/samplers.md), while on exact scores the jump's contraction,
// Var(X) / sqrt(Var(X) + 0.01) per direction, is 2% on gmm8's modes and 0.5% on unit ones.
//
// Default T = kStepsPerLevel = 300, not NCSN's 100. At a level s the walk relaxes a direction of
// the data's variance v in about v / (kOverdampedStep s^2) steps, so once s is well below the
// data's scale T steps can no longer follow the shrinking noise and the samples keep some of the
// variance of the levels above: with T = 100 (walking down to 0.01) the 16-D mixture's components
// (v = 1) came out 1.4-2.3% too wide, beyond what 2000 samples tolerate there (1.3%).
//
// Evaluations: L T + 1 (+ L for the underdamped walk's first score at each level).
#include <algorithm>
#include <cmath>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

constexpr int kLevels = 10;
constexpr int kStepsPerLevel = 300;

std::vector<double> geometric_levels(const SamplerOptions& o) {
  std::vector<double> s(o.levels);
  for (int i = 0; i < o.levels; ++i)
    s[i] =
        o.sigma_max * std::pow(o.sigma_min / o.sigma_max, static_cast<double>(i) / (o.levels - 1));
  s.back() = o.sigma_min;  // exactly, not through pow
  return s;
}

}  // namespace

void resolve_annealed_langevin(SamplerOptions& o, const ResolveContext& c) {
  if (o.levels == 0) o.levels = kLevels;
  if (o.sigma_min == 0) o.sigma_min = std::max(kWalkLevel, smallest_level(*c.process));
  o.denoise_final = true;  // the jump is part of the sampler (see above)
  resolve_level_range(o, c);
  if (o.steps == 0) o.steps = kStepsPerLevel;
  if (o.step_size == 0)
    o.step_size = walk_rule(o.walk, false, o.sigma_min, level_spread(o.sigma_min), o).step;
}

SampleResult sample_annealed_langevin(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const std::vector<double> sigmas = geometric_levels(o);
  const double last = sigmas.back();
  LangevinChain chain(run, WalkRule{}, run.noise(0) * static_cast<float>(level_spread(sigmas[0])));
  const int64_t total = static_cast<int64_t>(o.steps) * o.levels;
  Trajectory traj(o.trajectory_frames, total + (o.denoise_final ? 1 : 0));
  traj.record(0, chain.y());
  int64_t done = 0;
  NoiseLevel level;
  for (const double s : sigmas) {
    level = run.level(s, "annealed-langevin");
    WalkRule rule = walk_rule(o.walk, false, s, level_spread(s), o);
    rule.step = o.walk == Walk::Underdamped ? o.step_size * s / last
                                            : o.step_size * (s * s) / (last * last);
    chain.set_rule(rule);
    chain.density_changed();
    const WalkDensity q = level_density(run, level);
    for (int k = 0; k < o.steps; ++k) {
      chain.step(q);
      traj.record(++done, chain.y());
    }
  }
  const Tensor x = o.denoise_final ? run.denoise_at(chain.y(), level) : chain.y();
  return finish(run, x, traj);
}

}  // namespace mindiff::diffusion::detail
