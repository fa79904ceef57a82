// Samplers that walk the training steps of a discrete DDPM: ancestral (Ho et al. 2020) and DDIM
// (Song, Meng, Ermon 2021). Write abar_n for alphas_bar()[n] (n = 0..N-1, 0-based as the network
// sees it) and eps for the denoiser's noise prediction at x_t.
//
// Respacing. With S <= N steps both samplers visit the evenly spaced subsequence
//   tau_k = round(k (N - 1) / (S - 1)),  k = 0..S-1   (tau_0 = 0, tau_{S-1} = N - 1),
// from k = S-1 (the noisiest, started from the prior N(0, I)) down to k = 0, and then one last
// step to the data (abar = 1). A step goes from t = tau_k to s = tau_{k-1} (abar_s = 1 for k = 0).
// Every step first forms the Tweedie estimate
//   x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t).
//
// Ancestral: x_s ~ q(x_s | x_t, x_0 = x0_hat), the Gaussian posterior (Ho et al. eqs. 6-7;
// Berner's Theta_{t,s}) of the respaced chain, whose step has beta' = 1 - abar_t / abar_s:
//   mean = sqrt(abar_s) beta' / (1 - abar_t) x0_hat + sqrt(1 - beta') (1 - abar_s) / (1 - abar_t) x_t
//   var  = beta' (1 - abar_s) / (1 - abar_t)
// With S = N, beta' = beta_n and this is Ho et al.'s Algorithm 2 with sigma_t^2 = beta_tilde_t.
// The last step (abar_s = 1) has var = 0 and mean = x0_hat (Ho et al. return mu(x_1, 1) there).
//
// DDIM (eq. 12): x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma_s^2) eps + sigma_s z with
//   sigma_s = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)   (eq. 16),
// eta = 0 deterministic, eta = 1 exactly the ancestral step above (same mean and variance).
//
// Both end at the data, so denoise_final has nothing left to do for them (no extra evaluation).
#include <algorithm>
#include <cmath>

#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion::detail {

namespace {

// tau_k = round(k (N - 1) / (S - 1)): strictly increasing since the spacing (N-1)/(S-1) >= 1.
std::vector<int> respaced_steps(int n_train, int steps) {
  if (steps == 1) return {n_train - 1};
  std::vector<int> tau(steps);
  for (int k = 0; k < steps; ++k)
    tau[k] = static_cast<int>(std::llround(static_cast<double>(k) * (n_train - 1) / (steps - 1)));
  return tau;
}

// One pass over the respaced chain: the ancestral posterior, or DDIM with `eta` (eta = 1
// coincides with ancestral up to rounding).
SampleResult ddpm_chain(SamplerRun& run, double eta, bool ancestral) {
  const SamplerOptions& o = run.options();
  const auto& ddpm = dynamic_cast<const DiscreteDDPM&>(run.process());
  const std::vector<double>& abar = ddpm.alphas_bar();
  const std::vector<int> tau = respaced_steps(ddpm.steps(), o.steps);
  const int steps = o.steps;
  Trajectory traj(o.trajectory_frames, steps);

  Tensor x = run.prior();
  traj.record(0, x);
  for (int i = 0; i < steps; ++i) {
    const int k = steps - 1 - i;
    const double at = abar[tau[k]], as = k > 0 ? abar[tau[k - 1]] : 1.0;
    const Tensor eps = run.eps(x, ddpm.time_of_step(tau[k]));
    // x0_hat = (x - sqrt(1 - at) eps) / sqrt(at); every update below is a x + b eps (+ c z).
    const TweedieCoefficients tw = tweedie(std::sqrt(at), std::sqrt(1.0 - at));
    const double x0_x = tw.on_x, x0_eps = tw.on_eps;
    double cx, ce, noise_std;
    if (ancestral) {
      const double beta = 1.0 - at / as;
      const double c0 = std::sqrt(as) * beta / (1.0 - at);                 // on x0_hat
      const double ct = std::sqrt(at / as) * (1.0 - as) / (1.0 - at);      // on x_t
      cx = c0 * x0_x + ct;
      ce = c0 * x0_eps;
      noise_std = std::sqrt(beta * (1.0 - as) / (1.0 - at));
    } else {
      noise_std = eta * std::sqrt((1.0 - as) / (1.0 - at)) * std::sqrt(1.0 - at / as);
      // eta <= 1 keeps 1 - as - sigma^2 >= 0 (sigma^2 <= 1 - as); max() only absorbs rounding.
      const double dir = std::sqrt(std::max(0.0, 1.0 - as - noise_std * noise_std));
      cx = std::sqrt(as) * x0_x;
      ce = std::sqrt(as) * x0_eps + dir;
    }
    if (noise_std > 0)
      x = lincomb(cx, x, ce, eps, noise_std, run.noise(1 + static_cast<uint64_t>(i)));
    else
      x = lincomb(cx, x, ce, eps);
    if (i + 1 < steps) traj.record(i + 1, x);
  }
  return finish(run, x, traj);
}

}  // namespace

// Both walk the training steps of a discrete DDPM; any other process has none. Ancestral's
// default is every training step.
void resolve_ddpm_chain(SamplerOptions& o, const ResolveContext& c) {
  const auto* ddpm = dynamic_cast<const DiscreteDDPM*>(c.process);
  MD_CHECK(ddpm, c.sampler, ": needs a discrete DDPM process (ddpm-linear or ddpm-cosine), but ",
           c.process ? "the denoiser's process is '" + c.process->name() + "'"
                     : std::string("it was given an energy"),
           "; use euler-maruyama, pc, ode-* or dpm-solver++ for continuous processes");
  if (o.steps == 0) o.steps = ddpm->steps();
  MD_CHECK(o.steps <= ddpm->steps(), c.sampler, ": ", o.steps, " steps exceed the ",
           ddpm->steps(), " training steps of process '", ddpm->name(), "'");
}

SampleResult sample_ancestral(SamplerRun& run) { return ddpm_chain(run, 0.0, true); }

SampleResult sample_ddim(SamplerRun& run) { return ddpm_chain(run, run.options().eta, false); }

}  // namespace mindiff::diffusion::detail
