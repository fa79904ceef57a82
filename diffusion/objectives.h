// Training losses for a network under any parameterisation (parameterization.h: eps, x0, score,
// v, edm) and any forward process (process.h). One training draw, per sample b of a batch x_0 [B, ...]:
//
//   t_b      for a DiscreteDDPM an integer step n_b ~ U{0..N-1} and t_b = (n_b + 1) / N; for the
//            EDM process ln t_b ~ N(P_mean, P_std^2) (Karras et al. 2022, Table 1: the noise
//            level itself is log-normal; clamped to [t_min, t_max]); for NCSN noise levels,
//            sigma_b drawn uniformly from `sigmas` and t_b = t_of_sigma(sigma_b); otherwise
//            t_b ~ U[t_min, t_max]
//   z_b      ~ N(0, I),   x_t = alpha(t_b) x_0 + sigma(t_b) z_b
//   out      = F(network_input(x_t), network_times(t_b), labels with each dropped to kNoClass
//              w.p. p_uncond)
//   L        = mean over b and elements of w_b (out - target_b)^2, target = regression_target:
//
//   eps:   target z, w = 1: "L_simple" (Ho et al. 2020, eq. 14; Berner, noise-prediction loss)
//   x0:    target x_0, w = 1
//   v:     target alpha z - sigma x_0, w = 1 (Salimans & Ho 2022)
//   edm:   target (x_0 - c_skip x^) / c_out, w = 1: EDM's lambda(sigma) = 1 / c_out^2 weighting of
//          |D - x_0|^2, written on F (Karras et al. 2022, eq. 8 and Table 1)
//   score: L = mean_b sigma_b^2 |out_b + z_b / sigma_b|^2 / 2 = mean_b |sigma_b out_b + z_b|^2 / 2
//          (denoising score matching with lambda(sigma) = sigma^2, Song & Ermon 2019 eqs. 5-6;
//          Das, denoising score matching; the target -z / sigma is the score of x_t given x_0)
//
//   min-SNR-gamma (Hang et al. 2023, eq. 9 and sec. 3.4), for eps, x0 and v: with
//   SNR = alpha^2 / sigma^2, w = min(SNR, gamma) / SNR (eps), min(SNR, gamma) (x0),
//   min(SNR, gamma) / (SNR + 1) (v): each the weight that makes the loss
//   min(SNR, gamma) |x_0 - x0_hat|^2, so no noise level dominates the gradient.
//
// Label dropout trains the same network as an unconditional model for classifier-free guidance
// (Ho & Salimans 2022): network_denoiser.h combines the two predictions at sampling time.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/parameterization.h"
#include "diffusion/process.h"
#include "tensor/ops.h"

namespace mindiff::diffusion {

// A network as the losses and NetworkDenoiser see it: its input [B, ...] (network_input of x_t),
// net_time [B] (network_times), labels (B class indices, kNoClass entries, or empty when
// unconditional) -> prediction [B, ...] of x_t's shape.
using ModelFn = std::function<Tensor(const Tensor& x_t, const Tensor& net_time,
                                     const std::vector<int64_t>& labels)>;

struct Objective {
  Parameterization kind;  // eps by default
  // min-SNR-gamma loss weighting for eps, x0 and v (0: off, every sample weighs 1).
  double min_snr_gamma = 0.0;
  // The EDM process's log-normal training noise levels, ln t ~ N(p_mean, p_std^2).
  double p_mean = -1.2, p_std = 1.2;
  // Range of continuous training times; a negative value means the process's t_min() / t_max().
  // Ignored for DiscreteDDPM (integer steps) and when `sigmas` is set.
  double t_min = -1.0, t_max = -1.0;
  // NCSN noise levels: when non-empty, each sample takes one of these sigmas uniformly, at time
  // t_of_sigma(sigma) of the process (for a VE process x_t = x_0 + sigma z exactly).
  std::vector<double> sigmas;
  // Probability of replacing each label by ClassEmbedding::kNoClass (classifier-free guidance).
  double p_uncond = 0.0;
};

// Data-parallel training: x_0 holds rows [first, first + B) of a global batch of `total` rows
// split over processes. Every training draw (times, noise, label dropout) is made for the global
// batch and each process keeps its own rows, so together the processes use exactly the numbers
// one process with the whole batch would. total = 0 means x_0 is the whole batch.
struct BatchShard {
  int64_t first = 0;
  int64_t total = 0;
};

// The NCSN geometric noise levels sigma_max, ..., sigma_min (n >= 2 of them, decreasing).
std::vector<double> geometric_sigmas(double sigma_max, double sigma_min, int n);

// Training times t [B] drawn as described above (uses `gen`).
Tensor sample_train_times(int64_t batch, const Process& process, const Objective& objective,
                          Generator& gen, const BatchShard& shard = {});
// Labels with each entry independently replaced by kNoClass with probability p (uses `gen` when
// p > 0). Empty labels stay empty.
std::vector<int64_t> drop_labels(const std::vector<int64_t>& labels, double p, Generator& gen,
                                 const BatchShard& shard = {});

// The loss at given times t [B] and noise z (x_0's shape), labels passed to the model as given:
// deterministic, for tests and for evaluating a model on fixed draws.
Tensor diffusion_loss_at(const ModelFn& model, const Tensor& x0, const std::vector<int64_t>& labels,
                         const Process& process, const Objective& objective, const Tensor& t,
                         const Tensor& noise);

// One training draw: times, noise (randn from `gen`, on x0's device: the same numbers on every
// device), dropped labels, then diffusion_loss_at (network times go to x0's device).
// Returns a scalar (rank-0) tensor, differentiable w.r.t. whatever the model depends on.
Tensor diffusion_loss(const ModelFn& model, const Tensor& x0, const std::vector<int64_t>& labels,
                      const Process& process, const Objective& objective, Generator& gen,
                      const BatchShard& shard = {});

}  // namespace mindiff::diffusion
