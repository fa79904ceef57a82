// Private to the diffusion samplers (sampler.cpp and sample_*.cpp): the per-family entry points
// that sample() dispatches to, and the small pieces they share.
//
// Shapes: x [B, ...] (B samples, P = numel / B values each), t a scalar time shared by the batch
// unless said otherwise. All loops run under the NoGradGuard that sample() holds.
//
// Noise numbering. Every Gaussian draw of a sampler is step_noise(shape, seed, draw, first_index)
// with its own `draw`: draw 0 is the prior, draw 1 + k belongs to step k (k = 0 at the noisiest
// end), and pc's correctors take the draws between (see sample_sde.cpp). So sample i depends only
// on (seed, i), never on the batch it was drawn in.
#pragma once
#include <cstdint>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion::detail {

// a x + b y and a x + b y + c z, elementwise, as fresh contiguous tensors of x's shape and
// device. On the CPU the coefficients are applied in double and the result rounded once to
// float; on the CUDA device it is a composition of float ops (each product and sum rounded).
Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y);
Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y, double c, const Tensor& z);

// The denoiser, the batch geometry and the evaluation counter of one sample() call.
class SamplerRun {
 public:
  SamplerRun(const Denoiser& denoiser, const Shape& shape, const SamplerOptions& options)
      : denoiser_(denoiser), shape_(shape), options_(options) {}

  const Process& process() const { return denoiser_.process(); }
  const Denoiser& denoiser() const { return denoiser_; }
  const Shape& shape() const { return shape_; }
  const SamplerOptions& options() const { return options_; }
  int64_t evaluations() const { return evaluations_; }

  // Noise prediction eps(x, t) at one time for the whole batch; counts one evaluation.
  Tensor eps(const Tensor& x, double t);
  // ... at per-sample times t [B]; counts one evaluation.
  Tensor eps(const Tensor& x, const Tensor& t);
  // Tweedie's E[x_0 | x_t] = (x - sigma eps) / alpha (denoiser.h); counts one evaluation.
  Tensor denoise(const Tensor& x, double t);
  // Standard normal noise of the batch's shape for draw `draw` (see the numbering above).
  Tensor noise(uint64_t draw) const;
  // x_T ~ N(0, prior_std^2 I): draw 0 scaled by the process's prior std.
  Tensor prior() const;

 private:
  const Denoiser& denoiser_;
  Shape shape_;
  const SamplerOptions& options_;
  int64_t evaluations_ = 0;
};

// Snapshots of x for SamplerOptions::trajectory_frames on a fixed grid of `steps` steps: frame j
// of F is the state after step k_j = round(j * steps / (F - 1)) (k = 0 is the prior, k = steps
// the returned samples), so the first frame is noise and the last the final samples.
class Trajectory {
 public:
  Trajectory(int frames, int steps);
  // Offer the state after k steps (0 <= k < steps); kept if some frame wants it.
  void record(int k, const Tensor& x);
  // The frames, the last ones (k_j = steps) filled with the returned samples.
  std::vector<Tensor> finish(const Tensor& final_x);

 private:
  std::vector<int> frame_step_;
  std::vector<Tensor> frames_;
};

// Uniform time grid t_k = t_max - k (t_max - t_min) / steps, k = 0..steps (t_0 = t_max and
// t_steps = t_min exactly).
std::vector<double> uniform_time_grid(const Process& process, int steps);

// The samples x as a sampler's result: its evaluation count, and the trajectory completed with x.
SampleResult sampler_result(const SamplerRun& run, const Tensor& x, Trajectory& traj);
// The result of a sampler that ends at t_min: applies denoise_final (one Tweedie step at t_min,
// one more evaluation) and completes the trajectory with the returned samples.
SampleResult finish_at_t_min(SamplerRun& run, Tensor x, Trajectory& traj);

// Per-family samplers. `options.steps` is already resolved (> 0) and validated by sample().
SampleResult sample_ancestral(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_ddim(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_euler_maruyama(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_pc(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_ode_euler(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_ode_heun(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_ode_rk45(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_dpm_solver_pp(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_edm_heun(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult sample_edm_stochastic(const Denoiser& d, const Shape& shape, const SamplerOptions& o);

// Karras et al. 2022 eq. 5: `steps` noise levels from s_max down to s_min, spaced uniformly in
// s^(1/rho), then 0 (steps + 1 values).
std::vector<double> karras_noise_levels(double s_min, double s_max, int steps, double rho);

}  // namespace mindiff::diffusion::detail
