// The sampler toolkit: what every sampler of sampler.h is built from (private to sampler.cpp and
// the sample_*.cpp files). A new sampler is one sample_*.cpp file written with these pieces, one
// row in the table of sampler.cpp, and its tests.
//
//   SamplerRun     the denoiser (or a density given by its energy), the batch shape and the
//                  options of one sample() call; counts evaluations; draws noise; gives the score
//                  and posterior mean at a noise level s in the coordinates y = x_t / alpha
//   Trajectory     snapshots of the state for SamplerOptions::trajectory_frames
//   lincomb        fused a x + b y (+ c z) for the update rules
//   time grids     uniform in t (SDE and ODE solvers), Karras et al.'s eq. 5 (EDM, localisation)
//   Langevin walks langevin_walk.h: overdamped, underdamped and Metropolis-adjusted chains
//
// Shapes: x [B, ...] (B samples, P = numel / B values each), t a scalar time shared by the batch
// unless said otherwise. All loops run under the NoGradGuard that sample() holds.
//
// Noise numbering. Every Gaussian draw of a sampler is run.noise(draw) = step_noise(shape, seed,
// draw, first_index) with its own `draw`: draw 0 is the starting noise (the prior), draw 1 + k
// belongs to step k (k = 0 at the noisiest end), and samplers that need several draws per step
// say how they number them. So sample i depends only on (seed, i), never on its batch.
#pragma once
#include <cstdint>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/energy.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion::detail {

// a x + b y and a x + b y + c z, elementwise, as fresh contiguous tensors of x's shape and
// device. On the CPU the coefficients are applied in double and the result rounded once to
// float; on the CUDA device it is a composition of float ops (each product and sum rounded).
Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y);
Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y, double c, const Tensor& z);

// A noise level s seen through a process (Bach, empirical Bayes): y = x_t / alpha(t) is
// X + (sigma / alpha) N, so at the time t where sigma(t) / alpha(t) = s (Process::noise_ratio),
//   grad log q_s(y) = alpha(t) score(alpha(t) y, t),      E[X | y] = denoise(alpha(t) y, t),
// with q_s the density of Y = X + s N. For VE processes (alpha = 1) y is x_t itself.
struct NoiseLevel {
  double s = 0;      // the level
  double t = 0;      // the process time where noise_ratio(t) = s
  double alpha = 1;  // alpha(t)
};

// The level s of process p; an Error naming `who` and the process's range
// [noise_ratio(t_min), noise_ratio(t_max)] when s is outside it.
NoiseLevel noise_level(const Process& p, double s, const std::string& who);

// The denoiser (or energy), the batch geometry and the evaluation counter of one sample() call.
class SamplerRun {
 public:
  SamplerRun(const Denoiser& denoiser, const Shape& shape, const SamplerOptions& options)
      : denoiser_(&denoiser), shape_(shape), options_(options) {}
  // A density given by its energy (energy.h): no process, no noise levels.
  SamplerRun(const Energy& energy, const Shape& shape, const SamplerOptions& options)
      : energy_(&energy), shape_(shape), options_(options) {}

  bool has_denoiser() const { return denoiser_ != nullptr; }
  const Denoiser& denoiser() const;  // an Error naming the sampler for an energy
  const Energy* energy() const { return energy_; }
  const Process& process() const { return denoiser().process(); }
  const Shape& shape() const { return shape_; }
  const SamplerOptions& options() const { return options_; }
  int64_t evaluations() const { return evaluations_; }

  // Noise prediction eps(x, t) at one time for the whole batch; counts one evaluation.
  Tensor eps(const Tensor& x, double t);
  // ... at per-sample times t [B]; counts one evaluation.
  Tensor eps(const Tensor& x, const Tensor& t);
  // Tweedie's E[x_0 | x_t] = (x - sigma eps) / alpha (denoiser.h); counts one evaluation.
  Tensor denoise(const Tensor& x, double t);

  // noise_level(process(), s, who).
  NoiseLevel level(double s, const std::string& who) const;
  // grad log q_s(y) and E[X | y] at a level, each one evaluation (see NoiseLevel).
  Tensor score_at(const Tensor& y, const NoiseLevel& l);
  Tensor denoise_at(const Tensor& y, const NoiseLevel& l);
  // log q_s(y) up to a constant, per sample, for denoisers that know their density (exact
  // mixtures; Denoiser::log_density); counts one evaluation.
  std::vector<double> log_density_at(const Tensor& y, const NoiseLevel& l);
  // The energy's -grad f(y) and -f(y) per sample, each one evaluation.
  Tensor energy_score(const Tensor& y);
  std::vector<double> energy_log_density(const Tensor& y);

  // Standard normal noise of the batch's shape (or of `shape`, with the batch's first axis) for
  // draw `draw` (see the numbering above).
  Tensor noise(uint64_t draw) const;
  Tensor noise(uint64_t draw, const Shape& shape) const;
  // x_T ~ N(0, prior_std^2 I): draw 0 scaled by the process's prior std.
  Tensor prior() const;

 private:
  const Denoiser* denoiser_ = nullptr;
  const Energy* energy_ = nullptr;
  Shape shape_;
  const SamplerOptions& options_;
  int64_t evaluations_ = 0;
};

// Snapshots of x for SamplerOptions::trajectory_frames on a fixed grid of `steps` steps: frame j
// of F is the state after step k_j = round(j * steps / (F - 1)) (k = 0 is the start, k = steps
// the returned samples), so the first frame is noise and the last the final samples. When there
// are more frames than steps, a step's state fills every frame that rounds to it.
class Trajectory {
 public:
  Trajectory(int frames, int64_t steps);
  // Offer the state after k steps (0 <= k < steps); kept if some frame wants it.
  void record(int64_t k, const Tensor& x);
  // The frames, the last ones (k_j = steps) filled with the returned samples.
  std::vector<Tensor> finish(const Tensor& final_x);

 private:
  std::vector<int64_t> frame_step_;
  std::vector<Tensor> frames_;
};

// The result of a sampler: x, the run's evaluation count and the finished trajectory.
SampleResult finish(SamplerRun& run, const Tensor& x, Trajectory& traj);
// The result of a sampler that ends at t_min: applies denoise_final (one Tweedie step at t_min,
// one more evaluation) first.
SampleResult finish_at_t_min(SamplerRun& run, Tensor x, Trajectory& traj);

// Uniform time grid t_k = t_max - k (t_max - t_min) / steps, k = 0..steps (t_0 = t_max and
// t_steps = t_min exactly).
std::vector<double> uniform_time_grid(const Process& process, int steps);

// Karras et al. 2022 eq. 5: `steps` noise levels from s_max down to s_min, spaced uniformly in
// s^(1/rho), then 0 (steps + 1 values).
std::vector<double> karras_noise_levels(double s_min, double s_max, int steps, double rho);

// DPM-Solver++(2M) on the probability-flow ODE from x = x_{t_max} down to t_end (> t_min allowed),
// `steps` steps uniform in half log-SNR, one evaluation each (sample_dpm.cpp); the states after
// steps 1..steps-1 are offered to `traj` when it is given. Returns x_{t_end}.
Tensor dpm_solver_pp(SamplerRun& run, Tensor x, double t_end, int steps, Trajectory* traj);

// The range of noise levels of a process, [noise_ratio(t_min), noise_ratio(t_max)] (the levels
// in y = x_t / alpha coordinates; [0.01, 50] for ve).
double smallest_level(const Process& p);
double largest_level(const Process& p);

// What a resolve function knows: the sampler, and the process of the denoiser it will run on (or
// the energy: then process is null).
struct ResolveContext {
  const char* sampler;
  const Process* process;
  const Energy* energy;
};
// Replaces the options' 0 "defaults" that follow the sampler's rule (sampler.cpp's table).
using Resolver = void (*)(SamplerOptions& o, const ResolveContext& c);
// The range of levels [sigma_min, sigma_max] of the samplers that sweep one: each 0 becomes the
// process's end (smallest_level, largest_level); both are checked against the process.
void resolve_level_range(SamplerOptions& o, const ResolveContext& c);
void resolve_ddpm_chain(SamplerOptions& o, const ResolveContext& c);
void resolve_edm_stochastic(SamplerOptions& o, const ResolveContext& c);
void resolve_stochastic_localization(SamplerOptions& o, const ResolveContext& c);
void resolve_langevin(SamplerOptions& o, const ResolveContext& c);
void resolve_annealed_langevin(SamplerOptions& o, const ResolveContext& c);
void resolve_walk_jump(SamplerOptions& o, const ResolveContext& c);
void resolve_multi_measurement(SamplerOptions& o, const ResolveContext& c);
void resolve_joint_multi_measurement(SamplerOptions& o, const ResolveContext& c);

// The samplers (one file each, or one per family). The run's options are already resolved.
SampleResult sample_ancestral(SamplerRun& run);
SampleResult sample_ddim(SamplerRun& run);
SampleResult sample_euler_maruyama(SamplerRun& run);
SampleResult sample_pc(SamplerRun& run);
SampleResult sample_ode_euler(SamplerRun& run);
SampleResult sample_ode_heun(SamplerRun& run);
SampleResult sample_ode_rk45(SamplerRun& run);
SampleResult sample_dpm_solver_pp(SamplerRun& run);
SampleResult sample_edm_heun(SamplerRun& run);
SampleResult sample_edm_stochastic(SamplerRun& run);
SampleResult sample_langevin(SamplerRun& run);
SampleResult sample_mala(SamplerRun& run);
SampleResult sample_annealed_langevin(SamplerRun& run);
SampleResult sample_walk_jump(SamplerRun& run);
SampleResult sample_multi_measurement(SamplerRun& run);
SampleResult sample_joint_multi_measurement(SamplerRun& run);
SampleResult sample_stochastic_localization(SamplerRun& run);

}  // namespace mindiff::diffusion::detail
