// Gaussian mixtures with isotropic components: the distributions on which every sampler is
// verified, because their noised score is known in closed form at every time.
//
// p_0(x) = sum_k w_k N(x; mu_k, s_k^2 I) in D dimensions. Under x_t = a x_0 + s z the marginal is
// again a mixture: p_t(x) = sum_k w_k N(x; a mu_k, v_k I) with v_k = a^2 s_k^2 + s^2, so
//   grad log p_t(x) = sum_k r_k(x) (a mu_k - x) / v_k,  r_k = softmax_k(log w_k + log N(x; a mu_k, v_k I))
//   E[x_0 | x_t = x] = sum_k r_k(x) (mu_k + a s_k^2 (x - a mu_k) / v_k)      (exact posterior mean)
#pragma once
#include <vector>

#include "data/toy2d.h"
#include "diffusion/denoiser.h"

namespace mindiff::diffusion {

struct GaussianMixture {
  std::vector<double> weights;             // K, summing to 1
  std::vector<std::vector<double>> means;  // K x D
  std::vector<double> stds;                // K
  int64_t dim() const { return means.empty() ? 0 : static_cast<int64_t>(means[0].size()); }
  void validate() const;                   // shapes agree, weights positive and sum to 1

  // The 8-Gaussian ring of the toy set `gmm8`: radius 4, component std 0.5, equal weights.
  static GaussianMixture ring8(double radius = kGmm8Radius, double std = kGmm8Std);

  Tensor sample(int64_t n, Generator& gen) const;             // [n, D] exact samples
  std::vector<int64_t> sample_components(int64_t n, Generator& gen) const;
  // Under x_t = a x_0 + s z with per-sample a, s (vectors of length B, or length 1 for all):
  Tensor score(const Tensor& x, const std::vector<double>& a, const std::vector<double>& s) const;
  Tensor posterior_mean(const Tensor& x, const std::vector<double>& a,
                        const std::vector<double>& s) const;
  std::vector<double> log_density(const Tensor& x, double a, double s) const;  // log p_t per row
  // Index of the component with the highest responsibility at a = 1, s = 0, per row.
  std::vector<int64_t> assign(const Tensor& x) const;
};

// The exact noised mixture as a Denoiser of `process` (eps = -sigma * exact score).
class MixtureDenoiser : public Denoiser {
 public:
  MixtureDenoiser(GaussianMixture mixture, std::shared_ptr<const Process> process);
  Tensor eps(const Tensor& x, const Tensor& t) const override;
  bool has_log_density() const override { return true; }
  std::vector<double> log_density(const Tensor& x, double t) const override;
  const GaussianMixture& mixture() const { return mixture_; }

 private:
  GaussianMixture mixture_;
};

}  // namespace mindiff::diffusion
