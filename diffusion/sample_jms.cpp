// jms: joint multi-measurement sampling (Saremi, Park & Bach 2024; Bach's talk, beside the
// sequential sampler of sample_multi_measurement.cpp): the m measurements y_1..y_m of
// Y_i = X + sigma N_i walk together, by one Langevin chain (langevin_walk.h) on their joint
// density, then jump to E[X | y_1..y_m] = E[X | ybar] at level sigma / sqrt(m).
//
// The joint score. From p(y_1..y_m) = C exp(-S / (2 sigma^2)) q_{sigma/sqrt m}(ybar) (the
// factorisation of sample_multi_measurement.cpp with j = m),
//   grad_{y_i} log p = (ybar - y_i) / sigma^2 + (1/m) grad log q_{sigma/sqrt m}(ybar)
//                    = (E[X | ybar] - y_i) / sigma^2       (Tweedie at sigma / sqrt(m)),
// one denoiser call on ybar per step for all m. The Hessian is
// -(1/sigma^2)[I - (1/sigma^2) 1 1^T (x) Cov(X | y_1..y_m)]: curvature at most 1 / sigma^2 (the
// walk rule's s = sigma), and along the direction that moves every y_i together, the variance of
// m ybar's, m (v + sigma^2 / m) = m v + sigma^2 for data of variance v: the slowest direction,
// S = sqrt(m + sigma^2) for unit-scale data.
//
// What it is. The deviations y_i - ybar are N(0, sigma^2) whatever X, and the overdamped chain's
// ybar moves by (gamma / m) grad log q_{sigma/sqrt m}(ybar) + sqrt(2 gamma / m) z: it is the walk
// of walk-jump at level sigma / sqrt(m) with the step gamma / m, the same rule. So JMS samples
// what walk-jump at sigma / sqrt(m) samples, at the cost of a walk in m D dimensions; the
// sequential sampler's advantage (each conditional at sigma is more log-concave) is what joint
// sampling gives up -- which is why Saremi, Park & Bach prefer it. tests/test_langevin.cpp checks
// the equivalence.
//
// The state is one tensor [B, m P] (each sample's m measurements side by side), so a row is still
// one sample and its noise depends on (seed, sample index) only. Start: ybar from chain_start at
// level sigma / sqrt(m) (langevin_walk.h: a descent by default, or noise of std
// sqrt(1 + sigma^2 / m)), and y_i = ybar + sigma (z_i - zbar) with z from the chain's first draw:
// given ybar the measurements' deviations have exactly this law, whatever X. Defaults
// sigma = kMeasurementLevel, m = kMeasurements (multi-measurement's, to compare them), steps by
// the walk rule at (sigma, sqrt(m + sigma^2)).
//
// Trajectory: ybar, then the jump. Evaluations: the descent's kDescentSteps, steps (+ 1 for the
// underdamped walk's first score), + 1 for the jump.
#include <cmath>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

double joint_spread(const SamplerOptions& o) {
  return std::sqrt(o.measurements * kDataScale * kDataScale + o.sigma * o.sigma);
}

}  // namespace

void resolve_joint_multi_measurement(SamplerOptions& o, const ResolveContext& c) {
  if (o.sigma == 0) o.sigma = kMeasurementLevel;
  if (o.measurements == 0) o.measurements = kMeasurements;
  noise_level(*c.process, o.sigma / std::sqrt(o.measurements),
              std::string(c.sampler) + ": sigma / sqrt(measurements)");
  const WalkRule rule = walk_rule(o.walk, false, o.sigma, joint_spread(o), o);
  o.step_size = rule.step;
  o.friction = rule.friction;
  if (o.steps == 0) o.steps = walk_steps(rule, joint_spread(o), walk_relaxations(o));
}

SampleResult sample_joint_multi_measurement(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const int64_t m = o.measurements, batch = run.shape()[0], per = run.shape().numel() / batch;
  const NoiseLevel level = run.level(o.sigma / std::sqrt(m), "jms");
  const Shape joint({batch, m * per}), split({batch, m, per});
  // ybar [B, ...] of the joint state, and E[X | ybar] - y_i for every i, as the joint state.
  auto mean_of = [&](const Tensor& y) { return mean(y.reshape(split), {1}).reshape(run.shape()); };
  auto spread = [&](const Tensor& x) {  // [B, ...] -> [B, m P], the same x for every i
    return x.reshape(Shape({batch, 1, per})).expand(split).contiguous().reshape(joint);
  };
  const int first = start_steps(o);  // the trajectory's steps before the walk
  Trajectory traj(o.trajectory_frames, first + o.steps + 1);
  LangevinChain chain(run, walk_rule(o.walk, false, o.sigma, joint_spread(o), o),
                      zeros(joint, o.device));
  // ybar from the chain's start at sigma / sqrt(m), and y_i = ybar + sigma (z_i - zbar): given
  // ybar, the deviations of the measurements are exactly these, whatever X.
  const Tensor ybar = chain_start(run, level, level_spread(level.s), traj);
  const Tensor z = chain.noise();
  chain.move_to(lincomb(1.0, spread(ybar), o.sigma, z - spread(mean_of(z))));
  traj.record(first, mean_of(chain.y()));
  const float inv_var = static_cast<float>(1.0 / (o.sigma * o.sigma));
  WalkDensity q;
  q.score = [&](const Tensor& y) {
    return (spread(run.denoise_at(mean_of(y), level)) - y) * inv_var;
  };
  for (int k = 0; k < o.steps; ++k) {
    chain.step(q);
    traj.record(first + k + 1, mean_of(chain.y()));
  }
  return finish(run, run.denoise_at(mean_of(chain.y()), level), traj);
}

}  // namespace mindiff::diffusion::detail
