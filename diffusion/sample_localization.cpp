// stochastic-localization: sampling by stochastic localisation (Montanari 2023, "Sampling,
// diffusions, and stochastic localization"; Bach's closing slides).
//
// Z_t = t X + B_t, with B a Brownian motion independent of X, has three facts behind it:
//   1. Z_t / t = X + N(0, I / t): a measurement of X at noise level s = 1 / sqrt(t);
//   2. dZ_t = E[X | Z_t] dt + dB_t (a diffusion of its own, started at Z_0 = 0);
//   3. E[X | Z_t] = E[X | y] at y = Z_t / t and level 1 / sqrt(t): Tweedie's denoiser.
// So running the SDE from t = 0 to a large T and reading X off Z_T / T (or E[X | Z_T]) samples X.
//
// Discretisation. Euler-Maruyama on a grid t_0 < t_1 < ... holding E[X | Z] fixed over a step:
//   Z_{k+1} = Z_k + (t_{k+1} - t_k) E[X | Z_k] + sqrt(t_{k+1} - t_k) xi_k.
// Written for y_k = Z_k / t_k with s_k = 1 / sqrt(t_k) and r = s_{k+1} / s_k (so t_k / t_{k+1} = r^2):
//   y_{k+1} = r^2 y_k + (1 - r^2) E[X | y_k] + s_{k+1} sqrt(1 - r^2) xi_k,
// which is exact when X is a point (E[X | Z] does not move). It is also the ancestral step of the
// VE process (Ho et al. eq. 7 with x_0 replaced by its estimate): localisation's Euler step and
// DDPM's posterior step are one update, seen from the measurement's side.
//
// Grid: the levels s_k of Karras et al.'s eq. 5 (spacing rho, as edm-*) from sigma_max to
// sigma_min (default: the process's range), t_k = 1 / s_k^2. Start: y_0 ~ N(0, (1 + sigma_max^2) I)
// (draw 0), the law of a measurement at sigma_max of unit-scale data (Z_0 = t_0 y_0). Returns
// y at sigma_min, Z_T / T, a sample of X + sigma_min N; with denoise_final the final posterior
// mean E[X | Z_T] (one more evaluation). Steps: kSteps by default (a step per level).
// Evaluations: steps (+ 1).
#include <cmath>

#include "diffusion/langevin_walk.h"

namespace mindiff::diffusion::detail {

namespace {

constexpr int kSteps = 1000;

}  // namespace

void resolve_stochastic_localization(SamplerOptions& o, const ResolveContext& c) {
  resolve_level_range(o, c);
  if (o.steps == 0) o.steps = kSteps;
}

SampleResult sample_stochastic_localization(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  // steps + 1 levels from sigma_max to sigma_min: Karras's grid of steps + 1 levels, its 0 dropped.
  std::vector<double> s = karras_noise_levels(o.sigma_min, o.sigma_max, o.steps + 1, o.rho);
  s.pop_back();
  Tensor y = run.noise(0) * static_cast<float>(level_spread(o.sigma_max));
  Trajectory traj(o.trajectory_frames, o.steps + (o.denoise_final ? 1 : 0));
  traj.record(0, y);
  for (int k = 0; k < o.steps; ++k) {
    const Tensor x0 = run.denoise_at(y, run.level(s[k], "stochastic-localization"));
    const double r2 = (s[k + 1] * s[k + 1]) / (s[k] * s[k]);
    y = lincomb(r2, y, 1.0 - r2, x0, s[k + 1] * std::sqrt(1.0 - r2), run.noise(1 + k));
    traj.record(k + 1, y);
  }
  if (o.denoise_final) y = run.denoise_at(y, run.level(s.back(), "stochastic-localization"));
  return finish(run, y, traj);
}

}  // namespace mindiff::diffusion::detail
