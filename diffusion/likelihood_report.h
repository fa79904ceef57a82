// `sample --likelihood`: bits per dimension of N points under a denoiser, each figure a mean over
// the points with its standard error and N (likelihood.h has the estimators):
//
//   the probability-flow ODE likelihood of p_{t_min} (the density the model defines), with the
//   exact trace when a point has at most kMaxExactTraceDim values and Hutchinson's estimator
//   otherwise (or as asked);
//   the DDPM variational bound, when the process is a discrete DDPM;
//   the exact value, when the points' log-density under p_{t_min} is known (exact targets), and
//   the ODE estimate's difference from it.
//
// Continuous data (toy sets, exact targets) are scored as densities; 8-bit images in [-1, 1] are
// dequantised for the ODE (adding log2(127.5) bits per dimension, likelihood.h) and scored with
// the discretised decoder by the bound, so both bound the probability of the 8-bit image.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/likelihood.h"

namespace mindiff::diffusion {

struct LikelihoodSettings {
  std::string trace = "auto";  // auto | exact | rademacher | gaussian
  int probes = 1;              // Hutchinson probes per point
  int steps = 100;             // RK4 steps of the ODE
  int bound_timesteps = 0;     // DDPM bound: terms evaluated (0: all; see BoundOptions)
  int64_t batch = 256;         // points per call (memory only)
  uint64_t seed = 0;           // probes, dequantisation and the bound's draws
  bool eight_bit = false;      // the points are 8-bit images in [-1, 1]
};

// The trace estimator `trace` names for points of d values ("auto": exact up to
// kMaxExactTraceDim, Rademacher beyond); an Error naming --trace otherwise.
TraceEstimator trace_estimator(const std::string& trace, int64_t d);

// The report for `points` [N, ...] described as `what` (e.g. "1000 exact samples of gmm8").
// `exact_log_p`, when given, returns log p_{t_min}(x) per row.
std::string likelihood_report(
    const Denoiser& denoiser, const Tensor& points, const std::string& what,
    const LikelihoodSettings& settings,
    const std::function<std::vector<double>(const Tensor&)>& exact_log_p = {});

}  // namespace mindiff::diffusion
