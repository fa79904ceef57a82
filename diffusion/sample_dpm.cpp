// DPM-Solver++(2M) (Lu, Zhou, Bao, Chen, Li, Zhu 2022, "DPM-Solver++", Algorithm 2): a multistep
// second-order solver of the probability-flow ODE written in the half log-SNR
//   lambda(t) = log(alpha(t) / sigma(t))   (decreasing in t)
// on data predictions x0(x, t) = E[x_0 | x_t] = (x - sigma eps) / alpha (Tweedie). In lambda the
// ODE's linear part is exact, and with h_i = lambda_i - lambda_{i-1} > 0 one step is
//   x_i = (sigma_i / sigma_{i-1}) x_{i-1} - alpha_i (e^{-h_i} - 1) D_i,
// where D_1 = x0(x_0, t_0) (first order: the first step has no history) and, for i >= 2,
//   D_i = (1 + 1/(2 r_i)) x0(x_{i-1}, t_{i-1}) - 1/(2 r_i) x0(x_{i-2}, t_{i-2}),  r_i = h_{i-1} / h_i.
//
// Time grid: uniform in lambda from lambda(t_max) to lambda(t_min) (Lu et al.'s "logSNR" grid),
// t_i found by bisection of lambda(t) on [t_min, t_max], so it works for every Process. One
// evaluation per step (S in all), + 1 with denoise_final. Noise is drawn only for the prior.
//
// The solver also ends at other times than t_min: it is the descent that starts the one-level
// Langevin chains at their level (langevin_walk.h, chain_start).
#include <cmath>
#include <vector>

#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion::detail {

namespace {

double half_log_snr(const Process& p, double t) { return std::log(p.alpha(t) / p.sigma(t)); }

// The t in [t_min, t_max] with lambda(t) = target, by bisection (lambda decreasing in t).
// 200 halvings take the bracket far below double resolution; the loop stops when it can no
// longer shrink.
double time_of_half_log_snr(const Process& p, double target) {
  double lo = p.t_min(), hi = p.t_max();
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (half_log_snr(p, mid) > target)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

Tensor dpm_solver_pp(SamplerRun& run, Tensor x, double t_end, int steps, Trajectory* traj) {
  const Process& p = run.process();
  const double lam_first = half_log_snr(p, p.t_max()), lam_last = half_log_snr(p, t_end);
  MD_CHECK(lam_last > lam_first, "dpm-solver++: log(alpha / sigma) of process '", p.name(),
           "' does not increase from t_max to ", t_end, " (", lam_first, " to ", lam_last, ")");
  std::vector<double> lam(steps + 1), t(steps + 1);
  for (int i = 0; i <= steps; ++i) {
    lam[i] = lam_first + (lam_last - lam_first) * i / steps;
    t[i] = i == 0 ? p.t_max() : i == steps ? t_end : time_of_half_log_snr(p, lam[i]);
  }
  lam[steps] = lam_last;

  Tensor x0_prev;
  double h_prev = 0;
  for (int i = 1; i <= steps; ++i) {
    const double a_prev = p.alpha(t[i - 1]), s_prev = p.sigma(t[i - 1]);
    const double a = p.alpha(t[i]), s = p.sigma(t[i]);
    const double h = lam[i] - lam[i - 1];
    const Tensor eps = run.eps(x, t[i - 1]);
    const TweedieCoefficients tw = tweedie(a_prev, s_prev);
    const Tensor x0 = lincomb(tw.on_x, x, tw.on_eps, eps);
    const double c = -a * std::expm1(-h);                                // -alpha_i (e^{-h} - 1)
    if (i == 1) {
      x = lincomb(s / s_prev, x, c, x0);
    } else {
      const double r = h_prev / h;
      x = lincomb(s / s_prev, x, c * (1.0 + 0.5 / r), x0, -c * 0.5 / r, x0_prev);
    }
    x0_prev = x0;
    h_prev = h;
    if (traj && i < steps) traj->record(i, x);
  }
  return x;
}

SampleResult sample_dpm_solver_pp(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  Trajectory traj(o.trajectory_frames, o.steps);
  Tensor x = run.prior();
  traj.record(0, x);
  x = dpm_solver_pp(run, x, run.process().t_min(), o.steps, &traj);
  return finish_at_t_min(run, x, traj);
}

}  // namespace mindiff::diffusion::detail
