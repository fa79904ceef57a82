// The acceptance statistics of sample_check.h.
#include "diffusion/sample_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "diffusion/metrics.h"

namespace mindiff::diffusion {

namespace {

// The q-quantile of the values, linearly interpolated between order statistics (numpy's default).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const double w = pos - lo;
  return lo + 1 < v.size() ? (1 - w) * v[lo] + w * v[lo + 1] : v[lo];
}

double worst_weight_error(const std::vector<double>& w, const GaussianMixture& modes) {
  double e = 0;
  for (size_t k = 0; k < w.size(); ++k) e = std::max(e, std::fabs(w[k] - modes.weights[k]));
  return e;
}

double worst_spread_error(const std::vector<double>& s, const std::vector<double>& centres) {
  double e = 0;
  for (size_t k = 0; k < s.size(); ++k) e = std::max(e, std::fabs(s[k] / centres[k] - 1));
  return e;
}

}  // namespace

int64_t non_finite_rows(const Tensor& x) {
  const std::vector<float> v = x.to(Device::CPU).contiguous().to_vector();
  const int64_t n = x.size(0), d = n > 0 ? x.numel() / n : 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i)
    bad += std::any_of(v.begin() + i * d, v.begin() + (i + 1) * d,
                       [](float f) { return !std::isfinite(f); });
  return bad;
}

std::vector<double> mode_spreads(const Tensor& x, const GaussianMixture& modes) {
  const std::vector<int64_t> k = modes.assign(x);
  const std::vector<float> v = x.to(Device::CPU).contiguous().to_vector();
  const int64_t d = modes.dim();
  const size_t kc = modes.weights.size();
  std::vector<double> count(kc, 0), sum(kc * d, 0), squares(kc, 0);
  for (size_t i = 0; i < k.size(); ++i) {
    count[k[i]] += 1;
    for (int64_t j = 0; j < d; ++j) {
      const double value = v[i * d + j];
      sum[k[i] * d + j] += value;
      squares[k[i]] += value * value;
    }
  }
  // sum_i |x_i - mean|^2 = sum_i |x_i|^2 - n |mean|^2, per component, over n_k D values.
  std::vector<double> out(kc, 0.0);
  for (size_t c = 0; c < kc; ++c) {
    if (count[c] < 2) continue;
    double mean_sq = 0;
    for (int64_t j = 0; j < d; ++j) mean_sq += sum[c * d + j] * sum[c * d + j];
    out[c] = std::sqrt(std::max(0.0, squares[c] - mean_sq / count[c]) / (count[c] * d));
  }
  return out;
}

CheckStats check_stats(const Tensor& x, const Tensor& reference, const GaussianMixture* modes,
                       const ExactThresholds& th) {
  CheckStats s;
  s.energy = energy_distance(x.to(Device::CPU), reference);
  if (!modes) return s;
  MD_CHECK(th.centres.size() == modes->weights.size(), "check_stats: ", th.centres.size(),
           " spread centres for ", modes->weights.size(), " components");
  s.weights = mode_weights(x.to(Device::CPU), *modes);
  s.spreads = mode_spreads(x, *modes);
  s.weight = worst_weight_error(s.weights, *modes);
  s.spread = worst_spread_error(s.spreads, th.centres);
  return s;
}

ExactThresholds exact_thresholds(const std::string& target, int64_t n, int repeats,
                                 const std::function<Tensor(int64_t, uint64_t)>& exact,
                                 const GaussianMixture* modes, uint64_t seed0) {
  MD_CHECK(repeats >= 20, "exact_thresholds: a 95th percentile needs >= 20 repeats, got ", repeats);
  ExactThresholds th;
  th.target = target;
  th.n = n;
  th.repeats = repeats;
  std::vector<double> energy, weight;
  std::vector<std::vector<double>> spreads;
  for (int r = 0; r < repeats; ++r) {
    const Tensor a = exact(n, seed0 + 2 * r), b = exact(n, seed0 + 2 * r + 1);
    energy.push_back(energy_distance(a, b));
    if (!modes) continue;
    weight.push_back(worst_weight_error(mode_weights(a, *modes), *modes));
    spreads.push_back(mode_spreads(a, *modes));
  }
  th.energy = quantile(energy, 0.95);
  if (!modes) return th;
  th.weight = quantile(weight, 0.95);
  for (size_t k = 0; k < modes->weights.size(); ++k) {
    std::vector<double> sk;
    for (const std::vector<double>& s : spreads) sk.push_back(s[k]);
    th.centres.push_back(quantile(sk, 0.5));
  }
  std::vector<double> spread;
  for (const std::vector<double>& s : spreads) spread.push_back(worst_spread_error(s, th.centres));
  th.spread = quantile(spread, 0.95);
  return th;
}

const ExactThresholds* tabulated_thresholds(const std::string& target, int64_t n) {
  for (const ExactThresholds& t : threshold_table())
    if (t.target == target && t.n == n) return &t;
  return nullptr;
}

std::string format_check(const CheckStats& s, const ExactThresholds& th,
                         const GaussianMixture* modes) {
  std::string out;
  char buf[256];
  auto line = [&](const char* what, double value, double p95) {
    std::snprintf(buf, sizeof buf, "  %-22s %9.5f   exact p95 %9.5f   %5.2fx\n", what, value, p95,
                  value / p95);
    out += buf;
  };
  std::snprintf(
      buf, sizeof buf,
      "against %ld exact samples of %s (95th percentiles of %d exact-versus-exact repeats):\n",
      static_cast<long>(th.n), th.target.c_str(), th.repeats);
  out += buf;
  line("energy distance", s.energy, th.energy);
  if (!modes) return out;
  line("worst mode weight error", s.weight, th.weight);
  line("worst mode spread error", s.spread, th.spread);
  // Each component: weight (exact) and spread (the exact sets' median).
  out += "  per mode, weight (exact) and spread (exact):";
  for (size_t k = 0; k < s.weights.size(); ++k) {
    std::snprintf(buf, sizeof buf, "%s %.3f (%.3f) %.3f (%.3f)", k ? "," : "", s.weights[k],
                  modes->weights[k], s.spreads[k], th.centres[k]);
    out += buf;
  }
  return out + "\n";
}

}  // namespace mindiff::diffusion
