// The samplers of Karras, Aittala, Aila & Laine 2022 (EDM): Heun's method on the probability-flow
// ODE (their Algorithm 1) and its stochastic variant with "churn" (Algorithm 2), for any process.
//
// Coordinates. With x_t = alpha x_0 + sigma z, x^ = x_t / alpha = x_0 + s z has noise level
// s = sigma / alpha (Process::noise_ratio), and its probability-flow ODE is simply
//   dx^/ds = (x^ - D(x^; s)) / s = eps(alpha(t) x^, t),   t = t_of_noise_ratio(s)
// (their eq. 3 with sigma(t) = t, s(t) = 1; D is Tweedie's E[x_0 | x_t], so (x^ - D) / s is the
// denoiser's eps). Trajectories in these coordinates are nearly straight, which is what lets a
// second-order method finish in a few steps, whatever process the model was trained with.
//
// Noise levels (their eq. 5, rho = 7): for i = 0..N-1
//   s_i = (s_max^(1/rho) + i / (N-1) (s_min^(1/rho) - s_max^(1/rho)))^rho,   s_N = 0,
// with [s_min, s_max] = [noise_ratio(t_min), noise_ratio(t_max)] ([0.002, 80] for the EDM process).
//
// Step i (Algorithm 2; Algorithm 1 is gamma = 0):
//   gamma  = min(S_churn / N, sqrt(2) - 1) if S_tmin <= s_i <= S_tmax, else 0
//   s^     = s_i (1 + gamma) (at most s_max),   x^ <- x^ + sqrt(s^^2 - s_i^2) S_noise z_i
//   d      = eps at (x^, s^),    x_{i+1} = x^ + (s_{i+1} - s^) d                       (Euler)
//   if s_{i+1} > 0:  d' = eps at (x_{i+1}, s_{i+1}),  x_{i+1} = x^ + (s_{i+1} - s^) (d + d') / 2
//
// N steps cost 2N - 1 evaluations (the last step, to s_N = 0, is Euler: it lands on D). The
// result is the final denoised estimate, so denoise_final adds nothing. Noise: draw 0 is the
// prior, draw 1 + i the churn noise of step i.
#include <algorithm>
#include <cmath>
#include <vector>

#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion::detail {

std::vector<double> karras_noise_levels(double s_min, double s_max, int steps, double rho) {
  MD_CHECK(steps >= 1, "karras_noise_levels: need at least 1 step, got ", steps);
  MD_CHECK(0 < s_min && s_min < s_max, "karras_noise_levels: need 0 < s_min < s_max, got ", s_min,
           ", ", s_max);
  std::vector<double> s(steps + 1);
  const double a = std::pow(s_max, 1.0 / rho), b = std::pow(s_min, 1.0 / rho);
  for (int i = 0; i < steps; ++i)
    s[i] = steps == 1 ? s_max : std::pow(a + i / (steps - 1.0) * (b - a), rho);
  s[steps] = 0.0;
  return s;
}

namespace {

// edm-stochastic's S_churn when the options leave it 0 (gamma_i = 0.1 at its default 100 steps).
// Karras et al. take 40-80 with 256 steps on ImageNet, where churn offsets their networks'
// errors; with exact scores churn only adds discretisation error, and at 18 steps and S_churn 40
// (gamma_i at its cap sqrt 2 - 1 everywhere in [S_tmin, S_tmax]) the 16-D mixture's components
// came out 12% too wide. 100 steps with S_churn 10 keep them within the sampling error.
constexpr double kDefaultChurn = 10.0;

SampleResult sample_edm(SamplerRun& run, double churn) {
  const SamplerOptions& o = run.options();
  const Process& p = run.process();
  const int steps = o.steps;
  const double s_min = p.noise_ratio(p.t_min()), s_max = p.noise_ratio(p.t_max());
  const std::vector<double> s = karras_noise_levels(s_min, s_max, steps, o.rho);
  // eps of the denoiser at x^ and noise level r: the slope dx^/ds.
  auto slope = [&](const Tensor& xh, double r) {
    const double t = p.t_of_noise_ratio(r);
    return run.eps(xh * static_cast<float>(p.alpha(t)), t);
  };
  Trajectory traj(o.trajectory_frames, steps);
  const Tensor prior = run.prior();
  Tensor x = prior * static_cast<float>(1.0 / p.alpha(p.t_max()));  // x^ at s_max
  traj.record(0, prior);
  const double max_gamma = std::sqrt(2.0) - 1.0;
  for (int i = 0; i < steps; ++i) {
    const bool churned = churn > 0 && o.s_tmin <= s[i] && s[i] <= o.s_tmax;
    const double gamma = churned ? std::min(churn / steps, max_gamma) : 0.0;
    const double s_hat = std::min(s[i] * (1.0 + gamma), s_max);
    if (s_hat > s[i])  // x^ <- x^ + sqrt(s^^2 - s_i^2) S_noise z_i
      x = lincomb(1.0, x, std::sqrt(s_hat * s_hat - s[i] * s[i]) * o.s_noise, run.noise(1 + i));
    const double h = s[i + 1] - s_hat;
    const Tensor d1 = slope(x, s_hat);
    Tensor next = lincomb(1.0, x, h, d1);
    if (s[i + 1] > 0) {
      const Tensor d2 = slope(next, s[i + 1]);
      next = lincomb(1.0, x, 0.5 * h, d1, 0.5 * h, d2);
    }
    x = next;
    if (i + 1 < steps) traj.record(i + 1, x * static_cast<float>(p.alpha(p.t_of_noise_ratio(s[i + 1]))));
  }
  return finish(run, x, traj);
}

}  // namespace

void resolve_edm_stochastic(SamplerOptions& o, const ResolveContext&) {
  if (o.s_churn == 0) o.s_churn = kDefaultChurn;
}

SampleResult sample_edm_heun(SamplerRun& run) { return sample_edm(run, 0.0); }

SampleResult sample_edm_stochastic(SamplerRun& run) {
  return sample_edm(run, run.options().s_churn);
}

}  // namespace mindiff::diffusion::detail
