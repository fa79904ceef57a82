// Acceptance test of the diffusion samplers with exact scores: each sampler turns noise into
// samples of (a) the 8-Gaussian ring and (b) a two-component mixture in 16 dimensions with weights
// 0.7 and 0.3, such that
//   - the energy distance to exact samples of the same size is within the 95th percentile of
//     exact-versus-exact distances (estimated here from kNullPairs exact sets), and
//   - every mode weight is within 0.03 of the truth.
//
// Exact scores come from MixtureDenoiser. Step counts, reduced from the defaults where the
// discretisation error stays well below the sampling error of kSamples samples (measured: the
// energy distances come out near the exact-vs-exact medians, about 0.005 for the ring and 0.007
// for the 16-D mixture):
//
//   sampler          process                       steps                   evaluations
//   ancestral        ddpm-linear (N = 1000)        250 (respaced 4x)       250
//   ddim, eta = 0    ddpm-linear (N = 1000)        50 (respaced 20x)       50
//   euler-maruyama   vp (beta 0.1..20, t >= 1e-3)  250                     250
//   pc               vp                            250 + 1 corrector       500
//   ode-euler        vp                            250                     250
//   ode-heun         vp                            50                      100
//   ode-rk45         vp                            rtol = atol = 1e-3      62 (asserted < 400)
//   dpm-solver++     vp                            20 (uniform log-SNR)    20
//
// Both checks use fixed seeds, so the test is deterministic; the threshold comes from the same
// exact distribution at the same sample size, so it is neither loose by construction nor tilted
// against a correct sampler. It is still a 95% test: a perfect sampler exceeds it with
// probability 0.05 per case, and the deterministic samplers (ddim with eta = 0, the ODE solvers,
// dpm-solver++: nearly the same map of the same prior draw) pass or fail together. Seeds 1, 2, 3
// in place of kSamplerSeed were tried: only seed 1 put these above the 16-D threshold (energy
// 0.0117-0.0130 vs 0.0110), all with mode weight 0.682-0.686 (1.5-1.8 standard errors under
// 0.7), i.e. the luck of that prior draw, not a bias; ancestral, Euler-Maruyama and pc stayed
// below the threshold on every seed. If a
// change of the noise stream makes a case fail, run it over a few seeds before blaming it.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "diffusion/gmm.h"
#include "diffusion/metrics.h"
#include "diffusion/sampler.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;

// 2000 samples: the standard error of a 0.7 mode weight is sqrt(0.21 / 2000) = 0.010, so the
// issue's 0.03 tolerance is about 3 standard errors for a sampler without bias.
constexpr int64_t kSamples = 2000;
constexpr int kNullPairs = 40;       // exact-vs-exact distances behind the 95th percentile
constexpr double kModeTolerance = 0.03;  // from the issue
constexpr uint64_t kSamplerSeed = 2024;

// Two well separated modes in 16-D: means +-1 in every coordinate (distance 8), stds 1 and 0.5,
// so misassigning a sample needs a 4-sigma excursion and the mode weights are well defined.
GaussianMixture two_modes16() {
  GaussianMixture m;
  m.weights = {0.7, 0.3};
  m.means = {std::vector<double>(16, 1.0), std::vector<double>(16, -1.0)};
  m.stds = {1.0, 0.5};
  m.validate();
  return m;
}

struct Target {
  GaussianMixture mixture;
  Tensor reference;             // kSamples exact samples
  std::vector<double> null;     // energy_distance(reference, fresh exact set), sorted
  double q95 = 0;
};

// The 95th percentile of the sorted values, linearly interpolated (numpy's default).
double percentile95(const std::vector<double>& sorted) {
  const double pos = 0.95 * (sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const double w = pos - lo;
  return lo + 1 < sorted.size() ? (1 - w) * sorted[lo] + w * sorted[lo + 1] : sorted[lo];
}

// Built once per target and shared by every sampler's test (the null distribution costs
// kNullPairs energy distances).
const Target& target(const std::string& name) {
  static std::map<std::string, Target> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Target t;
  t.mixture = name == "ring8" ? GaussianMixture::ring8() : two_modes16();
  Generator gen(name == "ring8" ? 100 : 200);
  t.reference = t.mixture.sample(kSamples, gen);
  for (int j = 0; j < kNullPairs; ++j)
    t.null.push_back(energy_distance(t.reference, t.mixture.sample(kSamples, gen)));
  std::sort(t.null.begin(), t.null.end());
  t.q95 = percentile95(t.null);
  return cache.emplace(name, std::move(t)).first->second;
}

struct Case {
  std::string sampler;
  std::string target;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.sampler + "_" + info.param.target;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class SamplerAcceptance : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerAcceptance, MatchesExactSamples) {
  const Case& c = GetParam();
  const Target& t = target(c.target);
  const bool discrete = c.sampler == "ancestral" || c.sampler == "ddim";
  std::shared_ptr<const Process> process;
  if (discrete)
    process = DiscreteDDPM::linear(1000);
  else
    process = std::make_shared<VPSDE>();
  MixtureDenoiser denoiser(t.mixture, process);

  SamplerOptions o;
  o.seed = kSamplerSeed;
  const std::map<std::string, int> steps = {
      {"ancestral", 250}, {"ddim", 50},      {"euler-maruyama", 250}, {"pc", 250},
      {"ode-euler", 250},  {"ode-heun", 50},  {"ode-rk45", 0},         {"dpm-solver++", 20}};
  o.steps = steps.at(c.sampler);
  const SampleResult r = sample(c.sampler, denoiser, Shape({kSamples, t.mixture.dim()}), o);
  ASSERT_EQ(r.x.shape(), Shape({kSamples, t.mixture.dim()}));
  if (c.sampler == "ode-rk45") {
    EXPECT_LT(r.evaluations, 400) << "rk45 should need far fewer evaluations than fixed steps";
  }

  const double ed = energy_distance(r.x, t.reference);
  EXPECT_LE(ed, t.q95) << c.sampler << " on " << c.target << ": energy distance " << ed
                       << " above the exact-vs-exact 95th percentile " << t.q95
                       << " (null median " << t.null[t.null.size() / 2] << ")";
  const std::vector<double> w = mode_weights(r.x, t.mixture);
  for (size_t k = 0; k < w.size(); ++k)
    EXPECT_NEAR(w[k], t.mixture.weights[k], kModeTolerance)
        << c.sampler << " on " << c.target << ", mode " << k;
  std::printf("[ sampler  ] %-15s %-6s steps %4d evals %5lld  energy %.5f (q95 %.5f)  w0 %.4f\n",
              c.sampler.c_str(), c.target.c_str(), o.steps, static_cast<long long>(r.evaluations),
              ed, t.q95, w[0]);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* s : {"ancestral", "ddim", "euler-maruyama", "pc", "ode-euler", "ode-heun",
                        "ode-rk45", "dpm-solver++"})
    for (const char* t : {"ring8", "modes16"}) cases.push_back({s, t});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Diffusion, SamplerAcceptance, ::testing::ValuesIn(all_cases()),
                         case_name);

}  // namespace
}  // namespace mindiff
