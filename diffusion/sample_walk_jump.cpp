// walk-jump: walk-jump sampling (Saremi & Hyvarinen 2019; Bach, "sampling from a single
// measurement"). Walk: `steps` steps of a Langevin chain (langevin_walk.h) on q_sigma, the density
// of Y = X + sigma N, from chain_start (a descent to sigma by default, or N(0, (1 + sigma^2) I)).
// Jump: x = E[X | y] = y + sigma^2 grad log q_sigma(y) (Tweedie).
//
// The jump is a posterior mean, so the samples are narrower than the data: a mode of variance v
// comes out with variance v^2 / (v + sigma^2) (the shrinkage of a Gaussian's posterior mean), a
// std ratio sqrt(v / (v + sigma^2)); Bach: W2(X, E[X | Y])^2 <= sigma^2 d. Too large a sigma and
// the samples are fuzzy averages; too small and the walk mixes slowly ("sigma too large:
// denoising too fuzzy; too small: sampling is difficult"). The default sigma = kWalkLevel = 0.1 costs the
// ring's modes (std 0.5) 2% of their std and modes of std 1 0.5%; the walk is underdamped by
// default because at such a level it needs far fewer steps than the overdamped one (S / h against
// S^2 / gamma: 202 against 2020 at sigma = 0.1), with no variance inflation on Gaussians. Larger
// sigma with several measurements is multi-measurement's answer (sample_multi_measurement.cpp).
//
// Trajectory: the walk's y from its start, then the jump as one more step. Evaluations: the
// descent's kDescentSteps, steps (+ 1 for the underdamped walk's first score), + 1 for the jump.
#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

void resolve_walk_jump(SamplerOptions& o, const ResolveContext& c) {
  if (o.sigma == 0) o.sigma = kWalkLevel;
  noise_level(*c.process, o.sigma, std::string(c.sampler) + ": sigma");
  const WalkRule rule = walk_rule(o.walk, false, o.sigma, level_spread(o.sigma), o);
  o.step_size = rule.step;
  o.friction = rule.friction;
  if (o.steps == 0) o.steps = walk_steps(rule, level_spread(o.sigma), walk_relaxations(o));
}

SampleResult sample_walk_jump(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const NoiseLevel level = run.level(o.sigma, "walk-jump");
  const double spread = level_spread(o.sigma);
  const int first = start_steps(o);  // the trajectory's steps before the walk
  Trajectory traj(o.trajectory_frames, first + o.steps + 1);
  LangevinChain chain(run, walk_rule(o.walk, false, o.sigma, spread, o),
                      chain_start(run, level, spread, traj));
  traj.record(first, chain.y());
  const WalkDensity q = level_density(run, level);
  for (int k = 0; k < o.steps; ++k) {
    chain.step(q);
    traj.record(first + k + 1, chain.y());
  }
  return finish(run, run.denoise_at(chain.y(), level), traj);
}

}  // namespace mindiff::diffusion::detail
