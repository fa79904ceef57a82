// The Langevin family (Peyre, section 1; Liu, NCSN; Bach, walk-jump and multi-measurement).
//
//   langevin           x_{k+1} = x_k + gamma score(x_k) + sqrt(2 gamma) N(0, I) on a known score
//   annealed-langevin  Song & Ermon 2019, Alg. 1: for each sigma_i (geometric, largest first),
//                      T steps with gamma_i = eps sigma_i^2 / sigma_L^2 on score(x, sigma_i)
//   walk-jump          walk: Langevin on y with the smoothed score grad log q_sigma(y), where
//                      Y = X + sigma N; jump: x_hat = E[X | y] = y + sigma^2 grad log q_sigma(y)
//   multi-measurement  sequential multi-measurement sampling: y_1, ..., y_m drawn one after another
//                      by Langevin on p(y_j | y_1..y_{j-1}); since ybar = mean(y_1..y_j) is
//                      X + (sigma / sqrt(j)) N, every conditional score is a denoiser call at
//                      noise level sigma / sqrt(j). The jump is E[X | y_1..y_m] = E[X | ybar_m].
#pragma once
#include <functional>

#include "diffusion/sampler.h"

namespace mindiff::diffusion {

// A score function of x alone (x [N, D] -> [N, D]), for plain Langevin on a known density.
using ScoreFn = std::function<Tensor(const Tensor& x)>;

// Plain Langevin from x0 for `steps` steps of size gamma; returns the final state.
Tensor langevin(const ScoreFn& score, const Tensor& x0, int steps, double gamma,
                const SamplerOptions& options);

// The named Langevin-family samplers on a Denoiser, dispatched from sample().
SampleResult annealed_langevin(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult langevin_on_denoiser(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult walk_jump(const Denoiser& d, const Shape& shape, const SamplerOptions& o);
SampleResult multi_measurement(const Denoiser& d, const Shape& shape, const SamplerOptions& o);

}  // namespace mindiff::diffusion
