// What a diffusion network is given and what its output means: the one home of every conversion
// between the network and the forward process x_t = alpha(t) x_0 + sigma(t) z (process.h).
// Training (objectives.cpp) and sampling (network_denoiser.cpp) both call these, so the two can
// never disagree.
//
// Karras, Aittala, Aila & Laine 2022 (EDM, Table 1) write every choice in one frame: the
// denoiser is D(x; s) = c_skip(s) x + c_out(s) F(c_in(s) x; c_noise(s)), F the raw network. In
// the coordinates x^ = x_t / alpha = x_0 + s z with s = sigma / alpha (the noise level of x^):
//
//   kind   F predicts                       input        time given           valid for
//   eps    z (the noise)                    x_t          network_time(t)      every process
//   x0     x_0                              x_t          network_time(t)      every process
//   score  grad log p_t(x_t) = -z / sigma   x_t          network_time(t)      every process
//   v      alpha z - sigma x_0              x_t          network_time(t)      alpha^2 + sigma^2 = 1
//          (Salimans & Ho 2022, sec. 4; eps = sigma x_t + alpha v, x_0 = alpha x_t - sigma v)
//   edm    (x_0 - c_skip x^) / c_out        c_in x^      250 ln s             every process
//          with sd the data's standard deviation (sigma_data):
//          c_skip = sd^2 / (s^2 + sd^2), c_out = s sd / sqrt(s^2 + sd^2), c_in = 1 / sqrt(s^2 + sd^2),
//          c_noise = ln(s) / 4, given as 1000 c_noise = 250 ln s (the range of step indices the
//          sinusoidal embedding was built for; only a scale of the embedding's input)
//
// network_time(t) is the process's own (process.h): the step index for a DDPM, 999 t otherwise,
// 250 ln t for the EDM process (where s = t, so an eps network and an edm one see the same value).
#pragma once
#include <string>

#include "diffusion/denoiser.h"
#include "diffusion/process.h"
#include "tensor/ops.h"

namespace mindiff::diffusion {

struct Parameterization {
  enum Kind { kEps, kX0, kScore, kV, kEdm };
  // EDM's sigma_data for images in [-1, 1] (Karras et al. 2022, Table 1).
  static constexpr double kDefaultSigmaData = 0.5;

  Parameterization(Kind k = kEps, double sd = kDefaultSigmaData) : kind(k), sigma_data(sd) {}
  Kind kind;
  double sigma_data;  // edm only: the standard deviation of the data in c_skip, c_out, c_in
  bool operator==(const Parameterization& o) const {
    return kind == o.kind && (kind != kEdm || sigma_data == o.sigma_data);
  }
};

// "eps", "x0", "score", "v", "edm"; anything else is an error listing these.
Parameterization parse_parameterization(const std::string& name,
                                        double sigma_data = Parameterization::kDefaultSigmaData);
std::string parameterization_name(const Parameterization& p);
// An error naming the parameterisation and the process when they do not fit (v needs a
// variance-preserving process; edm a sigma_data > 0).
void check_parameterization(const Parameterization& p, const Process& process);

// Shapes: x [B, ...], t [B] (per-sample times, on any device; with their one value on the host
// when a sampler gives it, denoiser.h's Times), out the network's output (x's shape). Results
// are on x's device; per-sample coefficients broadcast over all but the batch.

// The time values the network is given [B], on `device`.
Tensor network_times(const Parameterization& p, const Process& process, const Times& t,
                     Device device);
// What the network is given in place of x_t: x_t itself, or c_in x_t / alpha for edm.
Tensor network_input(const Parameterization& p, const Process& process, const Tensor& x,
                     const Times& t);
// The network's output converted to the noise prediction eps every sampler uses (denoiser.h).
Tensor output_to_eps(const Parameterization& p, const Process& process, const Tensor& x,
                     const Times& t, const Tensor& out);
// What the network's output is regressed on, given x_0, the noise z and x_t = alpha x_0 + sigma z
// (the table above, with z for eps and -z / sigma for the score).
Tensor regression_target(const Parameterization& p, const Process& process, const Tensor& x0,
                         const Tensor& noise, const Tensor& x_t, const Tensor& t);

}  // namespace mindiff::diffusion
