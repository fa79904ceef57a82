// The one score interface every sampler uses. A Denoiser predicts the noise eps in
// x_t = alpha(t) x_0 + sigma(t) eps under its own forward process; the score and the denoised
// estimate follow from it (shapes: x [B, ...], t [B], per-sample alpha/sigma broadcast):
//
//   score(x_t, t)  = grad log p_t(x_t) = -eps / sigma(t)
//   Tweedie:  E[x_0 | x_t] = (x_t + sigma^2 score) / alpha = (x_t - sigma eps) / alpha
//   (Bach, "An alternative view...", empirical Bayes; Das, "Building Diffusion Model's theory", Tweedie)
//
// Implemented by a trained network (network_denoiser.h) and by the exact noised score of a
// Gaussian mixture (gmm.h), so every sampler can be tested where the truth is known.
#pragma once
#include <functional>
#include <memory>
#include <optional>

#include "diffusion/process.h"
#include "tensor/ops.h"

namespace mindiff::diffusion {

// Times t [B] as the per-sample coefficients take them: the tensor and, when every sample has the
// same time (each step of a sampler), that value on the host. A coefficient f(t) is then one
// value filled where x is; otherwise it takes the B times from their tensor (a read back when
// the tensor is on the device) and sends B values to x's device.
struct Times {
  Tensor t;                   // [B]
  std::optional<float> same;  // the value every element of t holds, when known on the host
  Times(const Tensor& times) : t(times) {}  // any [B] tensor of times (implicit: call sites pass t)
  // [B] filled with t (rounded to float, as the tensor holds it), on `device`.
  static Times uniform(int64_t batch, double t, Device device);
};

class Denoiser {
 public:
  explicit Denoiser(std::shared_ptr<const Process> process) : process_(std::move(process)) {}
  virtual ~Denoiser() = default;
  const Process& process() const { return *process_; }
  std::shared_ptr<const Process> process_ptr() const { return process_; }

  // Noise prediction at x [B, ...] for times t [B]. Runs under whatever grad mode the caller set
  // (samplers use NoGradGuard; the likelihood's trace estimator needs gradients w.r.t. x).
  virtual Tensor eps(const Tensor& x, const Tensor& t) const = 0;
  // The same at one time t for the whole batch (what samplers ask). A denoiser whose per-sample
  // coefficients can use the host value overrides it (nothing then crosses between the devices);
  // by default eps(x, [t, ..., t]).
  virtual Tensor eps_at(const Tensor& x, double t) const;

  Tensor score(const Tensor& x, const Tensor& t) const;    // -eps / sigma(t)
  Tensor denoise(const Tensor& x, const Tensor& t) const;  // Tweedie: (x - sigma eps) / alpha

  // log p_t(x) per sample, for the denoisers that know their density (the exact mixtures of
  // gmm.h; a network does not): what the Metropolis-adjusted chain (mala) needs.
  virtual bool has_log_density() const { return false; }
  virtual std::vector<double> log_density(const Tensor& x, double t) const;

 private:
  std::shared_ptr<const Process> process_;
};

// Static thresholding for data known to lie in [lo, hi] (images in [-1, 1]): the denoised
// estimate is clipped to the range and eps recomputed from it,
//   x0_c = clamp((x - sigma eps) / alpha, lo, hi),   eps_c = (x - alpha x0_c) / sigma,
// as DDPM's reference sampler does ("clip_denoised"). Any sampler then stays in range even where
// an imperfect network's x0 estimate (amplified by 1 / alpha at high noise) would not.
class ClippedDenoiser : public Denoiser {
 public:
  ClippedDenoiser(const Denoiser& inner, float lo = -1.0f, float hi = 1.0f)
      : Denoiser(inner.process_ptr()), inner_(inner), lo_(lo), hi_(hi) {}
  Tensor eps(const Tensor& x, const Tensor& t) const override;
  Tensor eps_at(const Tensor& x, double t) const override;

 private:
  Tensor clip(const Tensor& x, const Tensor& eps, const Times& t) const;
  const Denoiser& inner_;
  float lo_, hi_;
};

// [B] tensors of per-sample alpha(t_b), sigma(t_b), reshaped to broadcast against x [B, ...],
// on like's device.
Tensor per_sample(const Times& t, const Tensor& like, double (Process::*fn)(double) const,
                  const Process& process);
// The same for any function of the time: fn(t_b) as [B, 1, ..., 1] of like's rank and device,
// each value float(fn(t_b)) computed on the host in double; one fill on like's device when the
// times are all the same and known there (Times::same).
Tensor per_sample_values(const Times& t, const Tensor& like,
                         const std::function<double(double)>& fn);
// A [B] tensor filled with one time value.
Tensor time_batch(int64_t batch, double t, Device device = Device::CPU);

// Tweedie's formula as the two coefficients of E[x_0 | x_t] = on_x x_t + on_eps eps:
// on_x = 1 / alpha, on_eps = -sigma / alpha. The samplers' fused updates take these; eps_to_x0
// below is the same formula on tensors of per-sample coefficients.
struct TweedieCoefficients {
  double on_x, on_eps;
};
TweedieCoefficients tweedie(double alpha, double sigma);

// Conversions between the three parameterisations (shapes of x; alpha, sigma broadcastable).
Tensor eps_to_score(const Tensor& eps, const Tensor& sigma);                 // -eps / sigma
Tensor score_to_eps(const Tensor& score, const Tensor& sigma);               // -sigma score
Tensor eps_to_x0(const Tensor& x, const Tensor& eps, const Tensor& alpha, const Tensor& sigma);
Tensor x0_to_eps(const Tensor& x, const Tensor& x0, const Tensor& alpha, const Tensor& sigma);

}  // namespace mindiff::diffusion
