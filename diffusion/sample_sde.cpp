// Reverse-time SDE samplers: Euler-Maruyama and predictor-corrector.
//
// The forward SDE dx = f(t) x dt + g(t) dW (process.h) is reversed by (Anderson 1982; Song et al.
// 2021 eq. 6; Berner, reverse-time SDE)
//   dx = [f(t) x - g(t)^2 score(x, t)] dt + g(t) dW-bar,   score = -eps / sigma(t),
// run from t_max down to t_min on the uniform grid t_k = t_max - k dt, dt = (t_max - t_min) / S,
// from the prior x ~ N(0, prior_std^2 I). One Euler-Maruyama step from t_k to t_k - dt (Peyre,
// backward SDE discretisation) is
//   x <- x - [f x - g^2 score] dt + g sqrt(dt) z = (1 - f dt) x - (g^2 dt / sigma) eps + g sqrt(dt) z
// with all coefficients at t_k. Every step draws noise, so the result is a sample of p_{t_min}
// (denoise_final then removes the remaining sigma(t_min) of noise by Tweedie).
//
// Predictor-corrector (Song et al. 2021, Algorithm 2 with the corrector of Algorithm 5): after each
// predictor step above, `corrector_steps` Langevin steps at the new time t = t_{k+1}:
//   x <- x + e score(x, t) + sqrt(2 e) z.
// Algorithm 5 sets e = 2 a_k (snr |z| / |score|)^2. a_k is its "alpha_i = 1 - beta_i", here the
// squared alpha ratio of the step just taken, a_k = alpha(t_k)^2 / alpha(t_{k+1})^2 (= 1 - beta_i
// for a discrete DDPM, 1 - beta(t) dt + O(dt^2) for the VP SDE, 1 for VE where Algorithm 4 has no
// factor). For the norms we use their batch-free expected sizes, E|z|^2 = P (P values per sample)
// and the bound E|score|^2 = E|eps_hat|^2 / sigma^2 <= P / sigma^2 (eps_hat = E[eps | x_t] has at
// most the second moment of eps), which gives the deterministic step
//   e = 2 a_k snr^2 sigma(t)^2,
// the form of Song & Ermon's annealed Langevin step (proportional to sigma^2). snr is then an upper
// bound on the rms signal-to-noise ratio |e score| / |sqrt(2 e) z| of each correction. Why not the
// sampled norms: Song et al.'s code averages them over the batch, which makes sample i depend on
// its batch; per sample, in low dimension |score|^2 is often near 0 (near a mode: for P = 2 it is
// exponentially distributed), so e = 2 a snr^2 |z|^2 / |score|^2 has infinite mean and a few huge
// steps throw samples out of their modes (the 8-Gaussian test fails even at snr = 0.02). For
// image-like data the bound is nearly attained (most directions are noise, |score|^2 ~ P / sigma^2),
// so there the rule coincides with Algorithm 5; for low-dimensional data it is more conservative.
//
// Noise draws: step k of euler-maruyama uses draw 1 + k. In pc, step k uses draw
// 1 + k (1 + M) for its predictor and 1 + k (1 + M) + 1 + j for corrector j (M = corrector_steps).
// Evaluations: S for euler-maruyama, S (1 + M) for pc, + 1 with denoise_final.
#include <cmath>
#include <vector>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

// x <- (1 - f dt) x - (g^2 dt / sigma) eps + g sqrt(dt) z: one Euler-Maruyama step of the reverse
// SDE from t down to t - dt.
Tensor em_step(SamplerRun& run, const Tensor& x, double t, double dt, const Tensor& z) {
  const Process& p = run.process();
  const double f = p.drift(t), g = p.diffusion(t), s = p.sigma(t);
  const Tensor eps = run.eps(x, t);
  return lincomb(1.0 - f * dt, x, -g * g * dt / s, eps, g * std::sqrt(dt), z);
}

// One Langevin corrector step at time t (the step-size rule is in the header comment):
// x + e score + sqrt(2 e) z with score = -eps / sigma, the overdamped step of langevin_walk.h.
Tensor corrector_step(SamplerRun& run, const Tensor& x, double t, double alpha_ratio,
                      const Tensor& z) {
  const double s = run.process().sigma(t), snr = run.options().snr;
  const double e = 2.0 * alpha_ratio * snr * snr * s * s;
  return langevin_step(x, e, run.eps(x, t) * static_cast<float>(-1.0 / s), z);
}

}  // namespace

SampleResult sample_euler_maruyama(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const int steps = o.steps;
  const std::vector<double> t = uniform_time_grid(run.process(), steps);
  Trajectory traj(o.trajectory_frames, steps);
  Tensor x = run.prior();
  traj.record(0, x);
  for (int k = 0; k < steps; ++k) {
    x = em_step(run, x, t[k], t[k] - t[k + 1], run.noise(1 + static_cast<uint64_t>(k)));
    if (k + 1 < steps) traj.record(k + 1, x);
  }
  return finish_at_t_min(run, x, traj);
}

SampleResult sample_pc(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const Process& p = run.process();
  const int steps = o.steps;
  const uint64_t draws_per_step = 1 + static_cast<uint64_t>(o.corrector_steps);
  const std::vector<double> t = uniform_time_grid(p, steps);
  Trajectory traj(o.trajectory_frames, steps);
  Tensor x = run.prior();
  traj.record(0, x);
  for (int k = 0; k < steps; ++k) {
    const uint64_t draw = 1 + static_cast<uint64_t>(k) * draws_per_step;
    x = em_step(run, x, t[k], t[k] - t[k + 1], run.noise(draw));
    const double ratio = p.alpha(t[k]) / p.alpha(t[k + 1]);
    for (int j = 0; j < o.corrector_steps; ++j)
      x = corrector_step(run, x, t[k + 1], ratio * ratio, run.noise(draw + 1 + j));
    if (k + 1 < steps) traj.record(k + 1, x);
  }
  return finish_at_t_min(run, x, traj);
}

}  // namespace mindiff::diffusion::detail
