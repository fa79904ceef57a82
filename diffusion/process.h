// Forward (noising) processes. Every process here is linear in x, so it is described by scalar
// functions of the time t:
//
//   marginal:  x_t = alpha(t) x_0 + sigma(t) z,          z ~ N(0, I)
//   SDE:       dx = f(t) x dt + g(t) dW
//   with       f(t) = alpha'(t) / alpha(t),   g(t)^2 = d(sigma^2)/dt - 2 f(t) sigma(t)^2
//
// (Berner, "Diffusion models: SDE-based perspectives", general linear forward SDEs; Song et al.
// 2021, "Score-based generative modeling through SDEs", eqs. 25-29 for VP, sub-VP and VE.)
// Samplers integrate from t_max() down to t_min(); the prior at t_max is N(0, prior_std^2 I).
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace mindiff::diffusion {

class Process {
 public:
  virtual ~Process() = default;
  virtual std::string name() const = 0;  // as --schedule / --process take it
  virtual double alpha(double t) const = 0;
  virtual double sigma(double t) const = 0;
  virtual double drift(double t) const = 0;      // f(t)
  virtual double diffusion(double t) const = 0;  // g(t)
  virtual double t_min() const = 0;              // > 0 where sigma(0) = 0
  virtual double t_max() const = 0;
  virtual double prior_std() const = 0;          // std of the prior at t_max
  // The time value a network is given for time t (DDPM-style networks take the step index
  // 0..N-1; continuous processes give 999 t so the sinusoidal embedding sees the same range).
  virtual double network_time(double t) const = 0;
  // The time at which sigma(t) = s (sigma increasing in t), for samplers that work at a given
  // noise level (annealed Langevin, walk-jump). Throws if s is outside [sigma(t_min), sigma(t_max)].
  virtual double t_of_sigma(double s) const;
  // sigma(t) / alpha(t): the noise level of x_t / alpha(t) = x_0 + (sigma / alpha) z, the
  // coordinates in which the EDM samplers step (sampler_edm.cpp). Increasing in t.
  double noise_ratio(double t) const { return sigma(t) / alpha(t); }
  // The time at which noise_ratio(t) = r (bisection, as t_of_sigma); r outside
  // [noise_ratio(t_min), noise_ratio(t_max)] is an error.
  double t_of_noise_ratio(double r) const;
};

// Discrete DDPM (Ho et al. 2020) with N steps: betas beta_1..beta_N, alpha_bar_n = prod (1 - beta_i).
// Step n (0-based, as the network sees it) is the continuous time t_n = (n + 1) / N, with
// alpha(t_n) = sqrt(alpha_bar_n), sigma(t_n) = sqrt(1 - alpha_bar_n); between grid points log
// alpha_bar is interpolated linearly in t (alpha_bar(0) = 1), which makes it a continuous VP-type
// process that ODE/SDE samplers can also integrate.
class DiscreteDDPM : public Process {
 public:
  static std::shared_ptr<DiscreteDDPM> linear(int steps = 1000, double beta_start = 1e-4,
                                              double beta_end = 0.02);
  // Nichol & Dhariwal 2021: alpha_bar(t) = cos^2(((t + s) / (1 + s)) pi / 2) / cos^2(s pi / 2 / (1 + s)),
  // betas clipped at 0.999; with shift != 1 its log SNR moved by 2 ln(shift) (Hoogeboom et al.
  // 2023), named "ddpm-cosine-shifted:<shift>".
  static std::shared_ptr<DiscreteDDPM> cosine(int steps = 1000, double s = 0.008, double shift = 1.0);
  DiscreteDDPM(std::string name, std::vector<double> betas);

  int steps() const { return static_cast<int>(betas_.size()); }
  const std::vector<double>& betas() const { return betas_; }
  const std::vector<double>& alphas_bar() const { return alphas_bar_; }
  double time_of_step(int n) const { return (n + 1.0) / steps(); }

  std::string name() const override { return name_; }
  double alpha(double t) const override;
  double sigma(double t) const override;
  double drift(double t) const override;
  double diffusion(double t) const override;
  double t_min() const override { return 1.0 / steps(); }
  double t_max() const override { return 1.0; }
  double prior_std() const override { return 1.0; }
  double network_time(double t) const override { return t * steps() - 1.0; }

 private:
  std::string name_;
  std::vector<double> betas_, alphas_bar_;
};

// VP SDE: beta(t) = beta_min + t (beta_max - beta_min), dx = -beta/2 x dt + sqrt(beta) dW.
class VPSDE : public Process { /* beta_min 0.1, beta_max 20, t in [1e-3, 1] by default */
 public:
  explicit VPSDE(double beta_min = 0.1, double beta_max = 20.0, double t_min = 1e-3);
  std::string name() const override { return "vp"; }
  double alpha(double t) const override;
  double sigma(double t) const override;
  double drift(double t) const override;
  double diffusion(double t) const override;
  double t_min() const override { return t_min_; }
  double t_max() const override { return 1.0; }
  double prior_std() const override { return 1.0; }
  double network_time(double t) const override { return 999.0 * t; }

 protected:
  double integral_beta(double t) const;  // int_0^t beta(s) ds
  double beta_min_, beta_max_, t_min_;
};

// sub-VP SDE: same drift as VP, g^2 = beta(t) (1 - exp(-2 int_0^t beta)); sigma(t) = 1 - exp(-int beta).
class SubVPSDE : public VPSDE {
 public:
  using VPSDE::VPSDE;
  std::string name() const override { return "subvp"; }
  double sigma(double t) const override;
  double diffusion(double t) const override;
};

// VE SDE: alpha = 1, sigma(t) = sigma_min (sigma_max / sigma_min)^t, f = 0,
// g = sigma(t) sqrt(2 ln(sigma_max / sigma_min)). t in [0, 1]; prior N(0, sigma_max^2 I).
class VESDE : public Process {
 public:
  explicit VESDE(double sigma_min = 0.01, double sigma_max = 50.0);
  std::string name() const override { return "ve"; }
  double alpha(double) const override { return 1.0; }
  double sigma(double t) const override;
  double drift(double) const override { return 0.0; }
  double diffusion(double t) const override;
  double t_min() const override { return 0.0; }
  double t_max() const override { return 1.0; }
  double prior_std() const override { return sigma_max_; }
  double network_time(double t) const override { return 999.0 * t; }
  double t_of_sigma(double s) const override;
  double sigma_min() const { return sigma_min_; }
  double sigma_max() const { return sigma_max_; }

 private:
  double sigma_min_, sigma_max_;
};

// Ornstein-Uhlenbeck process of the notes (Peyre; Bach): dX = -X dt + sqrt(2) dW, so
// alpha = e^{-t}, sigma = sqrt(1 - e^{-2t}); t in [t_min, T] with T = 5 by default (alpha(T) < 0.007).
class OrnsteinUhlenbeck : public Process {
 public:
  explicit OrnsteinUhlenbeck(double horizon = 5.0, double t_min = 1e-3);
  std::string name() const override { return "ou"; }
  double alpha(double t) const override;
  double sigma(double t) const override;
  double drift(double) const override { return -1.0; }
  double diffusion(double) const override;
  double t_min() const override { return t_min_; }
  double t_max() const override { return horizon_; }
  double prior_std() const override { return 1.0; }
  double network_time(double t) const override { return 999.0 * t / horizon_; }

 private:
  double horizon_, t_min_;
};

// The process of Karras, Aittala, Aila & Laine 2022 ("EDM"): sigma(t) = t, s(t) = 1, so
// x_t = x_0 + t z with t the noise level itself, f = 0 and g = sqrt(2 t) (d(t^2)/dt = 2 t; their
// eq. 4 with sigma(t) = t). t in [sigma_min, sigma_max] = [0.002, 80] (their Table 1); prior
// N(0, 80^2 I). Training draws ln t ~ N(P_mean, P_std^2) rather than a uniform t (objectives.h).
class EDMProcess : public Process {
 public:
  explicit EDMProcess(double sigma_min = 0.002, double sigma_max = 80.0);
  std::string name() const override { return "edm"; }
  double alpha(double) const override { return 1.0; }
  double sigma(double t) const override { return t; }
  double drift(double) const override { return 0.0; }
  double diffusion(double t) const override;
  double t_min() const override { return sigma_min_; }
  double t_max() const override { return sigma_max_; }
  double prior_std() const override { return sigma_max_; }
  // 250 ln(sigma) = 1000 c_noise of EDM's preconditioning (Table 1, c_noise = ln(sigma) / 4),
  // scaled to the range of step indices the sinusoidal embedding is built for.
  double network_time(double t) const override;
  double t_of_sigma(double s) const override;

 private:
  double sigma_min_, sigma_max_;
};

// By name: "ddpm-linear", "ddpm-cosine", "ddpm-cosine-shifted:R" (R: the resolution ratio, e.g.
// 64 / 28 for Fashion-MNIST), "vp", "subvp", "ve", "ou", "edm" (defaults as above); an unknown
// name is an error listing the known ones. name() gives back the string that makes the process.
std::shared_ptr<Process> make_process(const std::string& name);

}  // namespace mindiff::diffusion
