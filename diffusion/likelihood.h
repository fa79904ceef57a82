// Likelihoods of a diffusion model, in bits per dimension.
//
// 1. Probability-flow ODE (Song et al. 2021, sec. 4.3 and app. D.2; Berner, "probability flow
//    ODE"). The ODE dx/dt = v(x, t) = f(t) x - g(t)^2 score(x, t) / 2 moves samples of p_t to
//    samples of p_s, and along a solution the instantaneous change of variables gives
//    d log p_t(x_t) / dt = -div v(x_t, t), so
//        log p_{t_min}(x) = log p_T(x_T) + int_{t_min}^{T} div v(x_t, t) dt,
//    with x_T the ODE solution from x_{t_min} = x and p_T the prior N(0, prior_std^2 I). The
//    divergence is Hutchinson's estimator div v = E_e[e^T (dv/dx) e] (e Rademacher or standard
//    normal, E[e e^T] = I; one fixed probe per sample for the whole solve, as in FFJORD and Song
//    et al., so the integral estimate is unbiased) computed with one vector-Jacobian product
//    e^T (dv/dx) through the autograd, or the exact trace from D such products. The augmented
//    system (x, log-det) is integrated with classical fixed-step RK4 on a uniform t grid.
//    The result is the density of the model at t_min (p_{t_min} = p_0 smoothed by sigma(t_min)),
//    which is what the model defines; Song et al. report the same quantity.
//
// 2. DDPM variational bound (Ho et al. 2020, eq. 5; Berner, "likelihood bound"), for DiscreteDDPM:
//        -log p(x_0) <= L_T + sum_{t=2}^{N} L_{t-1} + L_0,
//        L_T     = KL(q(x_N | x_0) || N(0, I)),
//        L_{t-1} = E_{x_t ~ q(x_t | x_0)} KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),
//        L_0     = E_{x_1 ~ q(x_1 | x_0)} [-log p(x_0 | x_1)],
//    q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde_t I) (Ho eqs. 6-7), the model
//    p(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) with mu_theta = (x_t - beta_t / sqrt(1 - abar_t)
//    eps_theta) / sqrt(alpha_t) (Ho eq. 11) and sigma_t^2 = beta_t or beta_tilde_t (option).
//    The decoder p(x_0 | x_1) is N(mu_theta(x_1, 1), beta_1 I), either discretised over the
//    8-bit bins (Ho eq. 13: bins of half-width 1/255 around x_0 in {k/127.5 - 1}, edge bins open
//    to +-infinity), which bounds the probability of the 8-bit image, or as a continuous
//    density for continuous data. Each expectation is estimated with one x_t sample per term.
//
// Bits per dimension: bpd = -log2 P / D with D the values per sample.
//  * Continuous data (toy sets): bpd = -log p(x) / (D ln 2), no dequantisation.
//  * 8-bit images scaled to [-1, 1] (x = k / 127.5 - 1, bins of width w = 2/255 = 1/127.5):
//    with uniform dequantisation x_u = x + w u, u ~ U[0, 1)^D, the bin probability is
//    P(k) = int_{bin} p = w^D E_u[p(x_u)] >= w^D exp(E_u[log p(x_u)]) (Jensen), so
//        -log2 P(k) / D <= (-E_u[log p(x_u)] + D log 127.5) / (D ln 2),
//    the bpd that ode_likelihood reports with LikelihoodOptions::bin_width = 2/255 (the caller adds
//    w u to the data first, e.g. with uniform_dequantize). The DDPM bound with the discretised
//    decoder is already a bound on -log P(k), so it needs no such term.
#pragma once
#include <functional>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/process.h"

namespace mindiff::diffusion {

enum class TraceEstimator {
  Rademacher,  // Hutchinson with e_i = +-1: the lowest-variance choice, Var = 2 sum_{i != j} S_ij^2
  Gaussian,    // Hutchinson with e ~ N(0, I): Var = 2 sum_{i, j} S_ij^2 (S the symmetric part)
  Exact,       // D vector-Jacobian products with the basis vectors (D <= kMaxExactTraceDim)
};
constexpr int64_t kMaxExactTraceDim = 64;

// Per-sample divergence of a per-sample map v: [B, ...] -> [B, ...] at x (row b of the Jacobian
// depends only on row b of x, as for every denoiser). With a Hutchinson estimator the probe of
// sample i, probe p is step_noise(x.shape(), seed, probe_step + p, first_index) (its signs for
// Rademacher), averaged over `probes` probes. v_out, when given, receives v(x) (detached).
// Needs gradient mode (not under NoGradGuard).
struct DivergenceOptions {
  TraceEstimator estimator = TraceEstimator::Rademacher;
  int probes = 1;
  uint64_t seed = 0;
  uint64_t probe_step = 0;
  int64_t first_index = 0;
};
std::vector<double> divergence(const std::function<Tensor(const Tensor&)>& v, const Tensor& x,
                               const DivergenceOptions& options, Tensor* v_out = nullptr);

struct LikelihoodOptions {
  int steps = 100;  // RK4 steps over [t_min, t_max] (4 denoiser evaluations each)
  TraceEstimator estimator = TraceEstimator::Rademacher;
  int probes = 1;          // Hutchinson probes per sample, fixed over the solve
  double bin_width = 0.0;  // 0: continuous data; 2/255 for dequantised 8-bit data in [-1, 1]
  uint64_t seed = 0;
  int64_t first_index = 0;  // index of the first sample (probes depend on the sample index)
};

struct LikelihoodResult {
  std::vector<double> log_p;  // per sample, log p_{t_min}(x) in nats (a density)
  std::vector<double> bpd;    // per sample bits per dimension (with the bin term if bin_width > 0)
  double mean_bpd = 0;
  std::vector<double> prior_log_p;  // per sample log p_T(x_T), the prior term
  int64_t evaluations = 0;          // velocity evaluations (each one denoiser call + its VJPs)
};

// log p_{t_min}(x) and bits/dim by the probability-flow ODE, for x [B, ...]. Needs gradient mode.
LikelihoodResult ode_likelihood(const Denoiser& denoiser, const Tensor& x,
                                const LikelihoodOptions& options);

// x + bin_width * u, u ~ U[0, 1) per element, u of sample i from (seed, sample index), for the
// uniform dequantisation above.
Tensor uniform_dequantize(const Tensor& x, double bin_width, uint64_t seed,
                          int64_t first_index = 0);

enum class ReverseVariance { Beta, BetaTilde };  // sigma_t^2 of p(x_{t-1} | x_t), t >= 2
enum class DecoderKind { Discretized8Bit, Gaussian };

struct BoundOptions {
  // beta_t by default: on Gaussian test data it gives the tighter bound (beta_tilde_t is too small
  // where Var(x_0 | x_t) is comparable to sigma_t^2, and costs about 0.6 bits/dim there).
  ReverseVariance variance = ReverseVariance::Beta;
  DecoderKind decoder = DecoderKind::Discretized8Bit;
  // Terms L_{t-1}, t = 2..N: 0 evaluates all N - 1; K > 0 splits them into K strata, geometric in
  // t (the terms decay roughly like 1/t), and evaluates one term drawn uniformly per stratum,
  // weighted by the stratum size: unbiased, with the same draw of t for every sample.
  int timesteps = 0;
  uint64_t seed = 0;
  int64_t first_index = 0;
};

struct BoundResult {
  std::vector<double> bpd;  // per sample, the whole bound in bits/dim
  double mean_bpd = 0;
  // Means over the batch, in bits/dim, of the three parts (they add up to mean_bpd).
  double prior_bpd = 0, diffusion_bpd = 0, decoder_bpd = 0;
  int64_t evaluations = 0;  // denoiser evaluations
};

// The bound for x0 [B, ...] under a denoiser whose process is a DiscreteDDPM (an error
// otherwise). With the discretised decoder x0 must hold 8-bit values k / 127.5 - 1.
BoundResult ddpm_bound(const Denoiser& denoiser, const Tensor& x0, const BoundOptions& options);

}  // namespace mindiff::diffusion
