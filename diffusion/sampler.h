// Samplers, selectable by name (as `sample --sampler NAME` takes them):
//
//   diffusion samplers (reverse the Denoiser's forward process from its prior):
//     ancestral        DDPM ancestral sampling, posterior q(x_{t-1} | x_t, x_0_hat) (Ho et al. eq. 6-7;
//                      Berner, the posterior Theta_{t,s})
//     ddim             DDIM with eta (Song, Meng, Ermon 2021, eq. 12); eta = 1 is ancestral-like
//     euler-maruyama   reverse-time SDE dx = [f x - g^2 score] dt + g dW-bar (Anderson 1982; Song et al. eq. 6)
//     pc               predictor-corrector: reverse-SDE predictor + Langevin corrector with the
//                      signal-to-noise step rule (Song et al. Alg. 5)
//     ode-euler, ode-heun, ode-rk45
//                      probability-flow ODE dx/dt = f x - g^2 score / 2 (Song et al. eq. 13) with
//                      Euler, Heun, or adaptive Dormand-Prince 4(5) with rtol/atol
//     dpm-solver++     DPM-Solver++(2M), multistep in log-SNR on x_0 predictions (Lu et al. 2022)
//     edm-heun, edm-stochastic
//                      Karras et al. 2022, Algorithms 1 and 2: Heun on the probability-flow ODE in
//                      the coordinates x / alpha at noise levels spaced by their eq. 5, without
//                      and with churn (sample_edm.cpp)
//   Langevin family (langevin.h):
//     annealed-langevin, langevin, walk-jump, multi-measurement
//
// Every sampler reports how many times it evaluated the denoiser. Noise comes from
// diffusion/noise.h, so results depend on (seed, sample index) only.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/denoiser.h"

namespace mindiff::diffusion {

struct SamplerOptions {
  int steps = 0;               // 0: the sampler's default (stated in sampler_default_steps)
  double eta = 0.0;            // ddim
  double snr = 0.16;           // pc: Langevin corrector signal-to-noise ratio
  int corrector_steps = 1;     // pc
  double rtol = 1e-3, atol = 1e-3;  // ode-rk45
  bool denoise_final = false;  // finish with one Tweedie step E[x_0 | x_t_min]
  // edm-heun, edm-stochastic (Karras et al. 2022, eq. 5 and Algorithm 2)
  double rho = 7.0;            // spacing of the noise levels
  double s_churn = 40.0;       // edm-stochastic: total churn (gamma_i = min(S_churn / N, sqrt 2 - 1))
  double s_tmin = 0.05, s_tmax = 50.0;  // churn only at noise levels in [S_tmin, S_tmax]
  double s_noise = 1.003;      // scale of the churn noise
  // Langevin family
  double step_size = 0.0;      // 0: the sampler's default rule
  double sigma = 0.5;          // walk-jump / multi-measurement noise level
  int measurements = 4;        // multi-measurement: m
  std::vector<double> sigmas;  // annealed-langevin: noise levels, largest first (empty: geometric default)
  // Trajectory: when > 0, keep this many snapshots of x_t (evenly spaced over the steps).
  int trajectory_frames = 0;
  uint64_t seed = 0;
  int64_t first_index = 0;     // index of the first sample of this batch (for step_noise)
  // Where the samples are made: the denoiser's device. Every tensor a sampler creates (prior,
  // noise, times) is created there, and the result is returned there.
  Device device = Device::CPU;
};

struct SampleResult {
  Tensor x;                        // [N, ...] final samples
  int64_t evaluations = 0;         // denoiser (network) evaluations, per sample batch
  std::vector<Tensor> trajectory;  // snapshots from noise to data when requested
};

// Draws samples of `shape` = [N, ...] with the named sampler. Errors name the sampler and the
// problem (unknown name listing the known ones, steps <= 0, a sampler needing a discrete DDPM
// process given another, ...).
SampleResult sample(const std::string& sampler, const Denoiser& denoiser, const Shape& shape,
                    const SamplerOptions& options);

std::vector<std::string> sampler_names();
int sampler_default_steps(const std::string& sampler);
// The sampler `sample` and training previews use for a model of `process` when none is named:
// ddim for discrete DDPM processes, edm-heun for the EDM process (35 evaluations), dpm-solver++
// otherwise.
std::string default_sampler(const Process& process);
// An Error naming the sampler and listing the known ones when `name` is not one of them.
void check_sampler_name(const std::string& name, const char* flag);

}  // namespace mindiff::diffusion
