// multi-measurement: sequential multi-measurement sampling (Saremi, Park & Bach 2024, "Chain of
// log-concave Markov chains"; Bach, "multiple measurements"). Measurements Y_i = X + sigma N_i,
// i = 1..m, drawn one after another, each by a Langevin walk (langevin_walk.h) on
// p(y_j | y_1..y_{j-1}); then the jump E[X | y_1..y_m].
//
// The conditional score. With ybar_j = (y_1 + ... + y_j) / j and S_j = sum_i |y_i - ybar_j|^2,
// the identity sum_i |y_i - x|^2 = j |x - ybar_j|^2 + S_j gives
//   p(y_1..y_j) = int p(x) prod_i N(y_i; x, sigma^2 I) dx
//               = (2 pi sigma^2)^{-(j-1) D / 2} j^{-D/2} exp(-S_j / (2 sigma^2)) q_{sigma/sqrt j}(ybar_j),
// because int p(x) N(ybar_j; x, sigma^2/j I) dx = q_{sigma/sqrt j}(ybar_j). Differentiating in y_j
// (grad_{y_j} S_j / 2 = y_j - ybar_j, since sum_i (y_i - ybar_j) = 0; d ybar_j / d y_j = 1/j):
//   grad_{y_j} log p(y_j | y_<j) = (ybar_j - y_j) / sigma^2 + (1/j) grad log q_{sigma/sqrt j}(ybar_j)
//       = (1/sigma^2) [ybar_j - y_j + (sigma^2/j) grad log q_{sigma/sqrt j}(ybar_j)]   (Bach's slide)
//       = (E[X | ybar_j] - y_j) / sigma^2,
// the last line by Tweedie at level sigma / sqrt(j). So each conditional score is one denoiser
// call on ybar_j, and the jump is E[X | y_1..y_m] = E[X | ybar_m] at level sigma / sqrt(m). The
// conditional's Hessian is -(1/sigma^2)[I - Cov(X | y_1..y_j) / sigma^2]: curvature at most
// 1 / sigma^2, the walk rule's s = sigma for every j.
//
// The walks. y_1 is walk-jump's walk at sigma: `steps` steps (default: the walk rule at
// s = sigma, S = sqrt(1 + sigma^2)) from chain_start (langevin_walk.h). y_j, j > 1, starts from
// E[X | ybar_{j-1}] + sigma z, a draw of p(y_j | y_<j) when the posterior of X is concentrated,
// and takes measurement_steps steps (default: kWarmStartRelaxations relaxations by the walk rule
// with S = sqrt(2) sigma, the std of that conditional when Var(X | y_<j) <= sigma^2, true once
// ybar_{j-1} is a measurement at sigma / sqrt(j - 1) <= sigma of unit-scale data). The start
// already has the conditional's mean and all of its variance but Var(X | y_<j), so the walk only
// settles that part; walking longer gained nothing on the exact targets and harmed networks, whose
// scores at the small levels sigma / sqrt(j) are their least accurate: with the ten relaxations
// of a walk from noise (83 steps per measurement) some of the shipped image model's garments came
// out as noisy textures, with two (17 steps) they came out clean. One step size (the rule at
// s = sigma) and one friction (2 / sqrt(1 + sigma^2)) serve all the walks.
//
// Defaults sigma = kMeasurementLevel = 0.25, m = kMeasurements = 16: the jump is at level
// 0.0625, so a mode of std 0.5 keeps 99.2% of its std (walk-jump's shrinkage
// sqrt(v / (v + 0.0039))) and one of std 1 99.8%, while the first walk is at 0.25, where q_sigma
// is smoother and the walk mixes faster than at walk-jump's level. At sigma = 0.5 (a jump at
// 0.125) the shrinkage of a std-1 mode, 0.8%, was most of what 2000 samples resolve in 16
// dimensions (1.3%, the exact-versus-exact 95th percentile): jms's modes on two-gaussians:16 came
// out 1.1% and 2.0% too narrow on one seed of the acceptance test (1.53 times the percentile);
// at 0.25 the worst of three seeds was 0.86 times it, for twice the evaluations.
//
// Trajectory: the running mean ybar (the last frame of each measurement's walk is ybar_j), then
// the jump. Evaluations: the descent's kDescentSteps, steps + (m - 1) (measurement_steps + 1) + 1,
// + m for the underdamped walks' first scores.
#include <cmath>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

// The walk rule's S for y_j, j > 1 (see above).
double later_spread(double sigma) { return std::sqrt(2.0) * sigma; }

}  // namespace

void resolve_multi_measurement(SamplerOptions& o, const ResolveContext& c) {
  if (o.sigma == 0) o.sigma = kMeasurementLevel;
  if (o.measurements == 0) o.measurements = kMeasurements;
  noise_level(*c.process, o.sigma, std::string(c.sampler) + ": sigma");
  noise_level(*c.process, o.sigma / std::sqrt(o.measurements),
              std::string(c.sampler) + ": sigma / sqrt(measurements)");
  const WalkRule rule = walk_rule(o.walk, false, o.sigma, level_spread(o.sigma), o);
  o.step_size = rule.step;
  o.friction = rule.friction;
  if (o.steps == 0) o.steps = walk_steps(rule, level_spread(o.sigma), walk_relaxations(o));
  if (o.measurement_steps == 0)
    o.measurement_steps = walk_steps(rule, later_spread(o.sigma), kWarmStartRelaxations);
}

SampleResult sample_multi_measurement(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const char* who = "multi-measurement";
  const int m = o.measurements;
  const double sigma = o.sigma;
  std::vector<NoiseLevel> levels;  // levels[j - 1]: sigma / sqrt(j)
  for (int j = 1; j <= m; ++j) levels.push_back(run.level(sigma / std::sqrt(j), who));
  const float inv_var = static_cast<float>(1.0 / (sigma * sigma));
  const int64_t first = start_steps(o);  // the trajectory's steps before the first walk
  const int64_t total = first + o.steps + static_cast<int64_t>(m - 1) * o.measurement_steps;
  Trajectory traj(o.trajectory_frames, total + 1);
  LangevinChain chain(run, walk_rule(o.walk, false, sigma, level_spread(sigma), o),
                      chain_start(run, levels[0], level_spread(sigma), traj));
  traj.record(first, chain.y());
  Tensor sum_prev = zeros(run.shape(), o.device);  // y_1 + ... + y_{j-1}
  int64_t done = first;
  for (int j = 1; j <= m; ++j) {
    const NoiseLevel& l = levels[j - 1];
    const float inv_j = 1.0f / static_cast<float>(j);
    if (j > 1) {  // y_j from E[X | ybar_{j-1}] + sigma z
      const Tensor ybar_prev = sum_prev * (1.0f / static_cast<float>(j - 1));
      chain.move_to(lincomb(1.0, run.denoise_at(ybar_prev, levels[j - 2]), sigma, chain.noise()));
    }
    // grad log p(y_j | y_<j) = (E[X | ybar_j] - y_j) / sigma^2
    WalkDensity q;
    q.score = [&](const Tensor& y) {
      return (run.denoise_at((sum_prev + y) * inv_j, l) - y) * inv_var;
    };
    const int steps = j == 1 ? o.steps : o.measurement_steps;
    for (int k = 0; k < steps; ++k) {
      chain.step(q);
      traj.record(++done, (sum_prev + chain.y()) * inv_j);
    }
    sum_prev = sum_prev + chain.y();
  }
  const Tensor x = run.denoise_at(sum_prev * (1.0f / static_cast<float>(m)), levels.back());
  return finish(run, x, traj);
}

}  // namespace mindiff::diffusion::detail
