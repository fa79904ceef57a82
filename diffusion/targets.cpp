// Exact targets by name or file (targets.h).
#include "diffusion/targets.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "data/file_io.h"
#include "nn/config_text.h"

namespace mindiff::diffusion {

namespace {

constexpr int kRingComponents = 64;
constexpr double kRingRadius = 2.0, kRingStd = 0.1;  // the toy set ring's (data/toy2d.h)
constexpr double kHalfGap = 3.0;                     // two-gaussians: means +-3 (1, ..., 1)
constexpr int64_t kMaxDim = 4096;                    // two-gaussians: D beyond any use here

GaussianMixture ring64() {
  GaussianMixture m;
  const double pi = std::acos(-1.0);
  for (int k = 0; k < kRingComponents; ++k) {
    const double a = 2 * pi * k / kRingComponents;
    m.weights.push_back(1.0 / kRingComponents);
    m.means.push_back({kRingRadius * std::cos(a), kRingRadius * std::sin(a)});
    m.stds.push_back(kRingStd);
  }
  return m;
}

GaussianMixture two_gaussians(int64_t d, double tau) {
  GaussianMixture m;
  m.weights = {0.5, 0.5};
  m.means = {std::vector<double>(d, kHalfGap), std::vector<double>(d, -kHalfGap)};
  m.stds = {tau, tau};
  return m;
}

// "two-gaussians[:D[,TAU]]" -> (D, TAU).
void two_gaussians_params(const std::string& spec, int64_t& d, double& tau) {
  d = 2;
  tau = 1.0;
  if (spec.size() == std::string("two-gaussians").size()) return;
  MD_CHECK(spec[13] == ':', spec, ": expected two-gaussians:D,TAU");
  const std::string args = spec.substr(14);
  const size_t comma = args.find(',');
  double dd = 0;
  const std::string d_text = args.substr(0, comma);
  MD_CHECK(nn::parse_number(d_text, dd) && dd == std::floor(dd) && dd >= 1 && dd <= kMaxDim,
           spec, ": the dimension D must be an integer in [1, ", kMaxDim, "], got '", d_text, "'");
  d = static_cast<int64_t>(dd);
  if (comma == std::string::npos) return;
  const std::string tau_text = args.substr(comma + 1);
  MD_CHECK(nn::parse_number(tau_text, tau) && tau > 0, spec,
           ": the std TAU must be a positive number, got '", tau_text, "'");
}

}  // namespace

int64_t ExactTarget::dim() const { return mixture ? mixture->dim() : energy->dim(); }

Tensor ExactTarget::exact_samples(int64_t n, uint64_t seed) const {
  if (energy) return energy->exact_samples(n, seed);
  Generator gen(seed);
  return mixture->sample(n, gen);
}

const GaussianMixture* ExactTarget::modes() const {
  return mixture && name != "ring" ? &*mixture : nullptr;
}

bool builtin_mixture(const std::string& spec, GaussianMixture& out) {
  if (spec == "gmm8") {
    out = GaussianMixture::ring8();
  } else if (spec == "ring") {
    out = ring64();
  } else if (spec.rfind("two-gaussians", 0) == 0) {
    int64_t d = 0;
    double tau = 0;
    two_gaussians_params(spec, d, tau);
    out = two_gaussians(d, tau);
  } else {
    return false;
  }
  out.validate();
  return true;
}

GaussianMixture parse_mixture(const std::string& text, const std::string& source) {
  GaussianMixture m;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  double total = 0;
  while (std::getline(lines, line)) {
    ++number;
    const std::string at = source + ":" + std::to_string(number) + ": ";
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::vector<double> values;
    std::string field;
    while (fields >> field) {
      double v = 0;
      MD_CHECK(nn::parse_number(field, v), at, "'", field, "' is not a number");
      values.push_back(v);
    }
    if (values.empty()) continue;  // blank or comment
    MD_CHECK(values.size() >= 3, at, "expected weight std mean_1 ... mean_D, got ", values.size(),
             values.size() == 1 ? " number" : " numbers");
    MD_CHECK(values[0] > 0, at, "the weight must be positive, got ", values[0]);
    MD_CHECK(values[1] > 0, at, "the std must be positive, got ", values[1]);
    const std::vector<double> mean(values.begin() + 2, values.end());
    MD_CHECK(m.means.empty() || mean.size() == m.means[0].size(), at, "a mean of ", mean.size(),
             " values, but the first component's has ", m.means.empty() ? 0 : m.means[0].size());
    m.weights.push_back(values[0]);
    m.stds.push_back(values[1]);
    m.means.push_back(mean);
    total += values[0];
  }
  MD_CHECK(!m.weights.empty(), source,
           ": no components (one per line: weight std mean_1 ... mean_D)");
  MD_CHECK(std::fabs(total - 1.0) <= 1e-3, source, ": the weights sum to ", total, ", not 1");
  for (double& w : m.weights) w /= total;
  m.validate();
  return m;
}

std::string target_names() {
  std::string s = "gmm8, ring, two-gaussians[:D[,TAU]]";
  for (const std::string& e : energy_names()) s += ", " + e;
  return s + ", or a mixture file";
}

ExactTarget make_target(const std::string& spec) {
  ExactTarget t;
  t.name = spec;
  for (const std::string& e : energy_names())
    if (spec == e) {
      t.energy = make_energy(spec);
      return t;
    }
  GaussianMixture m;
  if (builtin_mixture(spec, m)) {
    t.mixture = m;
    return t;
  }
  MD_CHECK(std::filesystem::is_regular_file(spec), "'", spec, "' is neither a target (",
           target_names(), ") nor a file");
  const std::vector<uint8_t> bytes = read_file(spec);
  t.mixture = parse_mixture(std::string(bytes.begin(), bytes.end()), spec);
  return t;
}

}  // namespace mindiff::diffusion
