// Samplers, selectable by name (as `sample --sampler NAME` takes them). The table of sampler.cpp
// lists them with their defaults; docs/samplers.md shows each at work.
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
//     stochastic-localization
//                      Z_t = t X + B_t driven by dZ = E[X | Z_t] dt + dB (Montanari 2023; Bach)
//   Langevin family: chains on q_s, the density of X + s N (langevin_walk.h has the update rules;
//   those at one level start from a descent of the probability-flow ODE to it, see ChainStart):
//     langevin, mala   Langevin (unadjusted, or Metropolis-adjusted) at one level s, or on an
//                      energy e^{-f} (Peyre, section 1; Bach)
//     annealed-langevin  over geometric levels, largest first (Song & Ermon 2019, Alg. 1; Liu)
//     walk-jump        walk at level sigma, then the jump E[X | y] (Saremi & Hyvarinen 2019; Bach)
//     multi-measurement  y_1..y_m one after another, then E[X | y_1..y_m]
//                      (Saremi, Park & Bach 2024)
//     jms              y_1..y_m together (joint multi-measurement sampling), then the same jump
//
// Every sampler reports how many times it evaluated the denoiser (or the energy's gradient).
// Noise comes from diffusion/noise.h, so results depend on (seed, sample index) only.
#pragma once
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/energy.h"

namespace mindiff::diffusion {

// How a Langevin chain moves (langevin_walk.h): the first-order (overdamped) update of Peyre and
// NCSN, or the kinetic (underdamped) one with a velocity that Saremi & Hyvarinen walk with.
enum class Walk { Default, Overdamped, Underdamped };
Walk parse_walk(const std::string& name);  // "overdamped" | "underdamped"
std::string walk_name(Walk walk);

// Where a chain at one level (langevin, mala, walk-jump, multi-measurement, jms) starts
// (langevin_walk.h, chain_start): from noise N(0, (1 + s^2) I), or from a short descent of the
// probability-flow ODE from the process's largest level down to the chain's, which brings each
// mode its share of the samples before the walk begins. Energies have no levels: noise only.
enum class ChainStart { Default, Noise, Descent };
ChainStart parse_chain_start(const std::string& name);  // "noise" | "descent"
std::string chain_start_name(ChainStart start);

// Every setting of every sampler. A 0 (or Walk::Default) means "the sampler's default", which
// resolve_options() replaces by the value of its rule (sampler.cpp says which rule and why).
struct SamplerOptions {
  int steps = 0;                    // the sampler's main step count (what it means: sampler.cpp)
  double eta = 0.0;                 // ddim
  double snr = 0.16;                // pc: Langevin corrector signal-to-noise ratio
  int corrector_steps = 1;          // pc
  double rtol = 1e-3, atol = 1e-3;  // ode-rk45
  bool denoise_final =
      false;  // finish with one Tweedie step E[x_0 | x_t_min] (E[X | y] for chains)
  // edm-heun, edm-stochastic (Karras et al. 2022, eq. 5 and Algorithm 2)
  double rho = 7.0;      // spacing of the noise levels
  double s_churn = 0.0;  // edm-stochastic: total churn (0: its default, sample_edm.cpp)
  double s_tmin = 0.05, s_tmax = 50.0;  // churn only at noise levels in [S_tmin, S_tmax]
  // Scale of the churn noise. Karras et al. take 1.003-1.007 to offset the detail their networks
  // lose; the exact scores of the acceptance tests lose none, and 1.003 widened their components.
  double s_noise = 1.0;
  // Langevin family
  Walk walk = Walk::Default;  // overdamped or underdamped
  double step_size = 0.0;     // gamma (overdamped, mala) or h (underdamped); see langevin_walk.h
  double friction = 0.0;      // underdamped: the velocity's friction
  double sigma = 0.0;         // langevin, mala, walk-jump, multi-measurement, jms: the level
  ChainStart start = ChainStart::Default;  // the same five: where their chain starts
  int measurements = 0;       // multi-measurement, jms: m
  int measurement_steps = 0;  // multi-measurement: Langevin steps for each of y_2..y_m
  int levels = 0;             // annealed-langevin: L
  // annealed-langevin, stochastic-localization: the range of levels (0: the process's own)
  double sigma_max = 0.0, sigma_min = 0.0;
  // Trajectory: when > 0, keep this many snapshots of the state (evenly spaced over the steps).
  int trajectory_frames = 0;
  uint64_t seed = 0;
  int64_t first_index = 0;  // index of the first sample of this batch (for step_noise)
  // Where the samples are made: the denoiser's device. Every tensor a sampler creates (prior,
  // noise, times) is created there, and the result is returned there.
  Device device = Device::CPU;
};

struct SampleResult {
  Tensor x;                        // [N, ...] final samples
  int64_t evaluations = 0;         // denoiser (network) evaluations, per sample batch
  std::vector<Tensor> trajectory;  // snapshots from noise to data when requested
  double acceptance = -1;          // mala: the fraction of proposals accepted (-1: no such thing)
};

// Draws samples of `shape` = [N, ...] with the named sampler. Errors name the sampler and the
// problem (unknown name listing the known ones, steps < 0, a sampler needing a discrete DDPM
// process given another, a level outside the process's range, ...).
SampleResult sample(const std::string& sampler, const Denoiser& denoiser, const Shape& shape,
                    const SamplerOptions& options);
// Samples e^{-f} of an energy (energy.h): langevin and mala only (the others need noise levels).
SampleResult sample(const std::string& sampler, const Energy& energy, const Shape& shape,
                    const SamplerOptions& options);

// The options sample() runs with: every default replaced by the sampler's rule and every value
// checked (errors as for sample()). `describe` says them in one line, for a front end to print.
SamplerOptions resolve_options(const std::string& sampler, const Denoiser& denoiser,
                               const SamplerOptions& options);
SamplerOptions resolve_options(const std::string& sampler, const Energy& energy,
                               const SamplerOptions& options);
std::string describe_options(const std::string& sampler, const SamplerOptions& resolved);

std::vector<std::string> sampler_names();
bool is_sampler(const std::string& name);
// Samplers that need a log-density (mala): an exact target or an energy, not a network.
bool needs_log_density(const std::string& sampler);
// Samplers that run on an energy (langevin, mala).
bool runs_on_energy(const std::string& sampler);
// The fixed default step count, or 0 where it follows a rule of the options (the Langevin family).
int sampler_default_steps(const std::string& sampler);
// The sampler `sample`, `sample --target` and training previews use when none is named, with its
// step count (0: the table's default, sampler.cpp), for samples of `sample_shape` (one sample,
// without the batch axis) under `process`:
//
//   images under the EDM process: edm-heun, 18 steps = 35 network evaluations (Heun's 2 per step
//     but the last). Karras et al.'s CIFAR-10 setting, and the budget an image model's default
//     must reach its quality in (README, "Measure sample quality", gives the FD it reaches);
//   everything else: dpm-solver++ at the table's 50 steps. Second order, so as accurate on the
//     acceptance tests' 16-D mixtures at 50 steps as DDIM's first-order steps at 500; edm-heun's
//     18 steps left those mixtures' components 5% too wide (sampler.cpp has the figures), which
//     is why the images' budget is not everyone's.
struct DefaultSampler {
  std::string name;
  int steps = 0;
};
DefaultSampler default_sampler(const Process& process, const Shape& sample_shape);
// An Error naming the sampler and listing the known ones when `name` is not one of them.
void check_sampler_name(const std::string& name, const char* flag);

}  // namespace mindiff::diffusion
