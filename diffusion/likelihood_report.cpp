// `sample --likelihood` (likelihood_report.h).
#include "diffusion/likelihood_report.h"

#include <cmath>
#include <cstdio>

namespace mindiff::diffusion {

namespace {

constexpr double kBinWidth = 2.0 / 255.0;  // 8-bit images in [-1, 1]

// Mean and standard error of the mean.
struct MeanSe {
  double mean = 0, se = 0;
};
MeanSe mean_se(const std::vector<double>& v) {
  MeanSe r;
  const double n = static_cast<double>(v.size());
  for (double x : v) r.mean += x / n;
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.se = v.size() > 1 ? std::sqrt(ss / (n - 1) / n) : 0.0;
  return r;
}

std::string line(const char* what, const std::vector<double>& bpd) {
  const MeanSe m = mean_se(bpd);
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-44s %9.4f bits/dim  +- %.4f (standard error, N=%zu)\n", what,
                m.mean, m.se, bpd.size());
  return buf;
}

}  // namespace

TraceEstimator trace_estimator(const std::string& trace, int64_t d) {
  if (trace == "exact") {
    MD_CHECK(d <= kMaxExactTraceDim, "--trace exact: the points have ", d, " values; the exact ",
             "trace takes one backward pass per value and is allowed up to ", kMaxExactTraceDim,
             " (use rademacher or gaussian)");
    return TraceEstimator::Exact;
  }
  if (trace == "rademacher") return TraceEstimator::Rademacher;
  if (trace == "gaussian") return TraceEstimator::Gaussian;
  MD_CHECK(trace == "auto", "--trace ", trace, ": must be auto, exact, rademacher or gaussian");
  return d <= kMaxExactTraceDim ? TraceEstimator::Exact : TraceEstimator::Rademacher;
}

std::string likelihood_report(
    const Denoiser& den, const Tensor& points, const std::string& what, const LikelihoodSettings& s,
    const std::function<std::vector<double>(const Tensor&)>& exact_log_p) {
  const int64_t n = points.size(0), d = points.numel() / n;
  LikelihoodOptions lo;
  lo.steps = s.steps;
  lo.estimator = trace_estimator(s.trace, d);
  lo.probes = s.probes;
  lo.bin_width = s.eight_bit ? kBinWidth : 0.0;
  lo.seed = s.seed;
  const bool ddpm = dynamic_cast<const DiscreteDDPM*>(&den.process()) != nullptr;
  std::vector<double> ode, bound, exact;
  for (int64_t first = 0; first < n; first += s.batch) {
    const Tensor x = points.slice(0, first, std::min(n, first + s.batch)).contiguous();
    lo.first_index = first;
    const Tensor xu = s.eight_bit ? uniform_dequantize(x, kBinWidth, s.seed, first) : x;
    const LikelihoodResult r = ode_likelihood(den, xu, lo);
    ode.insert(ode.end(), r.bpd.begin(), r.bpd.end());
    if (exact_log_p)
      for (double lp : exact_log_p(x)) exact.push_back(-lp / (d * std::log(2.0)));
    if (ddpm) {
      BoundOptions bo;
      bo.decoder = s.eight_bit ? DecoderKind::Discretized8Bit : DecoderKind::Gaussian;
      bo.timesteps = s.bound_timesteps;
      bo.seed = s.seed;
      bo.first_index = first;
      const BoundResult b = ddpm_bound(den, x, bo);
      bound.insert(bound.end(), b.bpd.begin(), b.bpd.end());
    }
  }
  const char* estimator = lo.estimator == TraceEstimator::Exact        ? "exact trace"
                          : lo.estimator == TraceEstimator::Rademacher ? "Rademacher probes"
                                                                       : "Gaussian probes";
  char head[512];
  std::snprintf(head, sizeof head,
                "likelihood of %s under process %s (the density at t_min; %s, %d RK4 steps%s):\n",
                what.c_str(), den.process().name().c_str(), estimator, s.steps,
                s.eight_bit ? ", dequantised 8-bit data" : "");
  std::string out = head;
  out += line("probability-flow ODE", ode);
  if (!exact.empty()) {
    out += line("exact log-density of the same points", exact);
    std::vector<double> diff(ode.size());
    for (size_t i = 0; i < ode.size(); ++i) diff[i] = ode[i] - exact[i];
    out += line("ODE minus exact", diff);
  }
  if (!bound.empty()) out += line("DDPM variational bound (an upper bound)", bound);
  return out;
}

}  // namespace mindiff::diffusion
