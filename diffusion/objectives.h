// Training losses for a network that predicts the noise eps, the clean data x_0 or the score,
// under any forward process (process.h). One training draw, per sample b of a batch x_0 [B, ...]:
//
//   t_b      ~ U[t_min, t_max] for continuous processes; for a DiscreteDDPM an integer step
//              n_b ~ U{0..N-1} and t_b = (n_b + 1) / N; for NCSN noise levels, sigma_b drawn
//              uniformly from `sigmas` and t_b = t_of_sigma(sigma_b)
//   z_b      ~ N(0, I),   x_t = alpha(t_b) x_0 + sigma(t_b) z_b
//   out      = model(x_t, network_time(t_b), labels with each dropped to kNoClass w.p. p_uncond)
//
//   eps:   L = mean over all elements of (out - z)^2                       (Ho et al. 2020, eq. 14,
//          "L_simple"; Berner, noise-prediction loss)
//   x0:    L = mean over all elements of (out - x_0)^2
//   score: L = mean_b sigma_b^2 |out_b + z_b / sigma_b|^2 / 2 = mean_b |sigma_b out_b + z_b|^2 / 2
//          (denoising score matching with lambda(sigma) = sigma^2, Song & Ermon 2019 eqs. 5-6;
//          Das, denoising score matching; the target -z / sigma is the score of x_t given x_0)
//
// Label dropout trains the same network as an unconditional model for classifier-free guidance
// (Ho & Salimans 2022): network_denoiser.h combines the two predictions at sampling time.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/process.h"
#include "tensor/ops.h"

namespace mindiff::diffusion {

// A network as the losses and NetworkDenoiser see it: x_t [B, ...], net_time [B] (the value
// Process::network_time gives), labels (B class indices, kNoClass entries, or empty when
// unconditional) -> prediction [B, ...] of x_t's shape.
using ModelFn = std::function<Tensor(const Tensor& x_t, const Tensor& net_time,
                                     const std::vector<int64_t>& labels)>;

// What the network's output means.
enum class Parameterization { kEps, kX0, kScore };
// "eps", "x0", "score"; anything else is an error listing these.
Parameterization parse_parameterization(const std::string& name);
std::string parameterization_name(Parameterization kind);

struct Objective {
  Parameterization kind = Parameterization::kEps;
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
