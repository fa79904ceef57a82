// Unit tests of the diffusion samplers (exact scores from MixtureDenoiser): same seed same
// samples whatever the batch, evaluation counts, the identities DDIM(eta = 1) = ancestral and
// pc without correctors = Euler-Maruyama, convergence of the ODE solvers to the exact flow map of
// a Gaussian at their order, trajectories, defaults and error messages.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "diffusion/gmm.h"
#include "diffusion/metrics.h"
#include "diffusion/noise.h"
#include "diffusion/sampler.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;
using test::expect_error;

const std::vector<std::string> kDiffusionSamplers = {
    "ancestral", "ddim", "euler-maruyama", "pc", "ode-euler", "ode-heun", "ode-rk45",
    "dpm-solver++", "edm-heun", "edm-stochastic"};

bool is_discrete(const std::string& s) { return s == "ancestral" || s == "ddim"; }

std::shared_ptr<const Process> process_for(const std::string& s) {
  if (is_discrete(s)) return DiscreteDDPM::linear(1000);
  return std::make_shared<VPSDE>();
}

SampleResult run(const std::string& s, const GaussianMixture& m, int64_t n,
                 const SamplerOptions& o, std::shared_ptr<const Process> p = nullptr) {
  MixtureDenoiser d(m, p ? p : process_for(s));
  return sample(s, d, Shape({n, m.dim()}), o);
}

// One isotropic Gaussian N(mu, s^2 I) in 2-D: its probability-flow map is known in closed form.
GaussianMixture gaussian() {
  GaussianMixture g;
  g.weights = {1.0};
  g.means = {{1.0, -0.5}};
  g.stds = {0.5};
  return g;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(double(x[i]) - y[i]));
  return m;
}

TEST(Samplers, SameSeedSameSamplesWhateverTheBatch) {
  const GaussianMixture ring = GaussianMixture::ring8();
  for (const std::string& s : kDiffusionSamplers) {
    SamplerOptions o;
    o.steps = s == "ode-rk45" ? 0 : 10;
    o.eta = 0.5;  // ddim draws noise too
    o.seed = 5;
    const Tensor a = run(s, ring, 64, o).x;
    EXPECT_EQ(max_abs_diff(a, run(s, ring, 64, o).x), 0.0) << s << ": same call, other result";
    o.first_index = 16;
    const Tensor b = run(s, ring, 8, o).x;  // samples 16..23
    EXPECT_EQ(max_abs_diff(a.slice(0, 16, 24), b), 0.0) << s << ": batch of 8 differs from 64";
    o.first_index = 0;
    o.seed = 6;
    EXPECT_GT(max_abs_diff(a, run(s, ring, 64, o).x), 0.1) << s << ": seed ignored";
  }
}

TEST(Samplers, ImageShapedBatchesGiveTheFlatSamples) {
  // Samplers see [N, ...] and treat each sample as P = numel / N values: drawing [8, 1, 2, 2]
  // gives exactly the [8, 4] samples, reshaped.
  GaussianMixture m;
  m.weights = {0.5, 0.5};
  m.means = {{1, 1, -1, 0}, {-1, 0, 1, 1}};
  m.stds = {0.4, 0.6};
  for (const std::string& s : kDiffusionSamplers) {
    SamplerOptions o;
    o.steps = s == "ode-rk45" ? 0 : 6;
    o.seed = 21;
    MixtureDenoiser d(m, process_for(s));
    const Tensor image = sample(s, d, Shape({8, 1, 2, 2}), o).x;
    const Tensor flat = sample(s, d, Shape({8, 4}), o).x;
    ASSERT_EQ(image.shape(), Shape({8, 1, 2, 2})) << s;
    EXPECT_EQ(max_abs_diff(image.reshape(Shape({8, 4})), flat), 0.0) << s;
  }
}

TEST(Samplers, ContinuousSamplersWorkOnEveryProcess) {
  // VE (prior std 50, alpha = 1), sub-VP, Ornstein-Uhlenbeck and the DDPM schedules read as
  // continuous processes: with exact scores every mode of the ring keeps its weight. 500 samples
  // give a weight standard error of sqrt(1/8 * 7/8 / 500) = 0.015; 0.06 is 4 of them.
  constexpr int64_t kN = 500;
  constexpr double kLooseModeTolerance = 0.06;
  const GaussianMixture ring = GaussianMixture::ring8();
  const std::vector<std::pair<std::string, int>> samplers = {
      {"euler-maruyama", 200}, {"pc", 100},         {"ode-euler", 100},
      {"ode-heun", 25},        {"ode-rk45", 0},     {"dpm-solver++", 20}};
  for (const char* name : {"ve", "subvp", "ou", "ddpm-cosine", "ddpm-linear"}) {
    MixtureDenoiser d(ring, make_process(name));
    for (const auto& [s, steps] : samplers) {
      SamplerOptions o;
      o.steps = steps;
      o.seed = 3;
      o.denoise_final = true;
      const std::vector<double> w = mode_weights(sample(s, d, Shape({kN, 2}), o).x, ring);
      for (size_t k = 0; k < w.size(); ++k)
        EXPECT_NEAR(w[k], 0.125, kLooseModeTolerance) << s << " on " << name << ", mode " << k;
    }
  }
}

TEST(Samplers, EvaluationCountsOfFixedStepSamplers) {
  const GaussianMixture ring = GaussianMixture::ring8();
  SamplerOptions o;
  o.steps = 7;
  o.corrector_steps = 2;
  // S steps: one evaluation per step, Heun two, pc one predictor plus M correctors.
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"ancestral", 7}, {"ddim", 7}, {"euler-maruyama", 7}, {"pc", 21},
      {"ode-euler", 7}, {"ode-heun", 14}, {"dpm-solver++", 7}};
  for (const auto& [s, n] : expected) {
    EXPECT_EQ(run(s, ring, 4, o).evaluations, n) << s;
    SamplerOptions f = o;
    f.denoise_final = true;  // one Tweedie step, except where the chain already ends at the data
    EXPECT_EQ(run(s, ring, 4, f).evaluations, n + (is_discrete(s) ? 0 : 1)) << s;
  }
  // Defaults: ancestral takes every step of its process, the others their stated counts.
  SamplerOptions d;
  EXPECT_EQ(run("ancestral", ring, 4, d, DiscreteDDPM::linear(100)).evaluations, 100);
  EXPECT_EQ(run("ddim", ring, 4, d).evaluations, sampler_default_steps("ddim"));
  EXPECT_EQ(run("dpm-solver++", ring, 4, d).evaluations, sampler_default_steps("dpm-solver++"));
  EXPECT_EQ(run("ode-heun", ring, 4, d).evaluations, 2 * sampler_default_steps("ode-heun"));
}

TEST(Samplers, Rk45CountsAndLooserToleranceNeedsFewerEvaluations) {
  const GaussianMixture ring = GaussianMixture::ring8();
  SamplerOptions tight, loose;
  tight.rtol = tight.atol = 1e-5;
  loose.rtol = loose.atol = 1e-2;
  const int64_t n_tight = run("ode-rk45", ring, 16, tight).evaluations;
  const int64_t n_loose = run("ode-rk45", ring, 16, loose).evaluations;
  // 1 (velocity at the prior) + 1 (starting step) + 6 per attempted step (FSAL).
  EXPECT_EQ((n_tight - 2) % 6, 0);
  EXPECT_EQ((n_loose - 2) % 6, 0);
  EXPECT_LT(n_loose, n_tight);
  EXPECT_LT(n_loose, 100);
}

TEST(Samplers, DdimWithEtaOneIsAncestral) {
  // DDIM eq. 16 with eta = 1 has the posterior variance of the respaced DDPM and the same mean
  // (Song, Meng, Ermon 2021, section 4.1); both take draw 1 + i at step i, so only the rounding of
  // differently arranged coefficients separates them: ~1e-7 relative per step over 20 steps.
  constexpr double kRounding = 1e-4;
  SamplerOptions o;
  o.steps = 20;
  o.seed = 3;
  o.eta = 1.0;
  const GaussianMixture ring = GaussianMixture::ring8();
  EXPECT_LT(max_abs_diff(run("ddim", ring, 32, o).x, run("ancestral", ring, 32, o).x), kRounding);
}

TEST(Samplers, PcWithoutCorrectorIsEulerMaruyama) {
  SamplerOptions o;
  o.steps = 25;
  o.seed = 9;
  o.corrector_steps = 0;  // predictor draws are then numbered as Euler-Maruyama's
  const GaussianMixture ring = GaussianMixture::ring8();
  EXPECT_EQ(max_abs_diff(run("pc", ring, 16, o).x, run("euler-maruyama", ring, 16, o).x), 0.0);
}

TEST(Samplers, OneDdpmStepIsTweedieAtTheLastTrainingStep) {
  // With one step, ancestral and DDIM go from tau = N - 1 straight to the data: x0_hat of the
  // prior draw, i.e. the exact posterior mean E[x_0 | x_{t=1}] of the mixture.
  const GaussianMixture ring = GaussianMixture::ring8();
  auto ddpm = DiscreteDDPM::linear(1000);
  SamplerOptions o;
  o.steps = 1;
  o.seed = 4;
  const Tensor prior = step_noise(Shape({16, 2}), 4, 0);
  const double t = ddpm->time_of_step(999);
  const Tensor want = ring.posterior_mean(prior, {ddpm->alpha(t)}, {ddpm->sigma(t)});
  for (const char* s : {"ancestral", "ddim"})
    EXPECT_LT(max_abs_diff(run(s, ring, 16, o, ddpm).x, want), 1e-4) << s;
}

// The probability-flow ODE of a Gaussian N(mu, s^2 I) moves x_t = a(t) mu + sqrt(v(t)) w with
// v = a^2 s^2 + sigma^2 and w fixed, so from the prior draw x_T the exact end point is
//   x_end = a_end mu + sqrt(v_end / v(T)) (x_T - a(T) mu).
// The continuous samplers end at t_min of the VP SDE; DDIM ends at the data (a = 1, sigma = 0)
// of the discrete DDPM, whose deterministic update is a first-order solver of the same ODE.
double flow_error(const std::string& s, const SamplerOptions& opts) {
  const GaussianMixture g = gaussian();
  const std::shared_ptr<const Process> p = process_for(s);
  SamplerOptions o = opts;
  o.seed = 12;
  o.trajectory_frames = 2;  // [prior, result]
  const SampleResult r = run(s, g, 64, o, p);
  const std::vector<float> x_T = r.trajectory.front().to_vector(), x = r.x.to_vector();
  const double s0 = g.stds[0], aT = p->alpha(p->t_max()), sT = p->sigma(p->t_max());
  const double a0 = is_discrete(s) ? 1.0 : p->alpha(p->t_min());
  const double s_end = is_discrete(s) ? 0.0 : p->sigma(p->t_min());
  const double vT = aT * aT * s0 * s0 + sT * sT, v0 = a0 * a0 * s0 * s0 + s_end * s_end;
  double err = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double mu = g.means[0][i % 2];
    const double exact = a0 * mu + std::sqrt(v0 / vT) * (x_T[i] - aT * mu);
    err = std::max(err, std::fabs(x[i] - exact));
  }
  return err;
}

TEST(Samplers, OdeSolversConvergeToTheExactFlowAtTheirOrder) {
  // Halving the step divides the global error by 2^order once the steps are in the asymptotic
  // range (measured errors: Euler 1.6e-2 at 40 steps, Heun 8.9e-3 at 20, DPM-Solver++ 1.6e-2
  // at 20, DDIM 8.5e-2 at 40); the float32 floor (~1e-6) stays far below the errors compared.
  auto ratio = [](const std::string& s, int steps) {
    SamplerOptions a, b;
    a.steps = steps;
    b.steps = 2 * steps;
    const double ea = flow_error(s, a), eb = flow_error(s, b);
    EXPECT_GT(eb, 1e-5) << s << ": error at the float floor, the ratio means nothing";
    return ea / eb;
  };
  const double euler = ratio("ode-euler", 40), heun = ratio("ode-heun", 20),
               dpm = ratio("dpm-solver++", 20), ddim = ratio("ddim", 40);
  EXPECT_GT(euler, 1.7) << "Euler is first order";
  EXPECT_LT(euler, 2.4);
  EXPECT_GT(ddim, 1.7) << "DDIM (eta = 0) is first order";
  EXPECT_LT(ddim, 2.4);
  EXPECT_GT(heun, 3.4) << "Heun is second order";
  EXPECT_LT(heun, 4.6);
  EXPECT_GT(dpm, 3.4) << "DPM-Solver++(2M) is second order";
  EXPECT_LT(dpm, 4.6);
  // rk45 meets a tight tolerance (this also checks the Dormand-Prince tableau: a wrong
  // coefficient leaves an O(h) or O(h^2) error that no tolerance removes). Measured 1.3e-6.
  SamplerOptions tight;
  tight.rtol = tight.atol = 1e-6;
  EXPECT_LT(flow_error("ode-rk45", tight), 1e-5);
}

TEST(Samplers, TrajectoryRunsFromPriorToSamples) {
  const GaussianMixture ring = GaussianMixture::ring8();
  for (const std::string& s : kDiffusionSamplers) {
    SamplerOptions o;
    o.steps = s == "ode-rk45" ? 0 : 12;
    o.seed = 8;
    o.first_index = 3;
    o.trajectory_frames = 5;
    o.denoise_final = true;
    const SampleResult r = run(s, ring, 6, o);
    ASSERT_EQ(r.trajectory.size(), 5u) << s;
    EXPECT_EQ(max_abs_diff(r.trajectory.front(), step_noise(Shape({6, 2}), 8, 0, 3)), 0.0) << s;
    EXPECT_EQ(max_abs_diff(r.trajectory.back(), r.x), 0.0) << s;
    for (int j = 1; j < 4; ++j) {
      EXPECT_EQ(r.trajectory[j].shape(), Shape({6, 2})) << s;
      EXPECT_GT(max_abs_diff(r.trajectory[j], r.trajectory[j - 1]), 0.0) << s << " frame " << j;
    }
  }
}

TEST(Samplers, NamesAndDefaults) {
  const std::vector<std::string> names = sampler_names();
  const std::vector<std::string> expected = {
      "ancestral", "ddim", "euler-maruyama", "pc", "ode-euler", "ode-heun", "ode-rk45",
      "dpm-solver++", "edm-heun", "edm-stochastic", "stochastic-localization", "langevin", "mala",
      "annealed-langevin", "walk-jump", "multi-measurement", "jms"};
  EXPECT_EQ(names, expected);
  // Every sampler resolves to a positive step count on the exact ring: a fixed default, or its
  // rule (ancestral: the process's training steps; the Langevin family: langevin_walk.h).
  const MixtureDenoiser d(GaussianMixture::ring8(), DiscreteDDPM::linear(1000));
  for (const std::string& n : names) {
    const int fixed = sampler_default_steps(n);
    const int steps = resolve_options(n, d, SamplerOptions{}).steps;
    EXPECT_GT(steps, 0) << n;
    if (fixed > 0) {
      EXPECT_EQ(steps, fixed) << n;
    }
  }
  EXPECT_EQ(resolve_options("ancestral", d, SamplerOptions{}).steps, 1000);
}

TEST(Samplers, Errors) {
  const GaussianMixture ring = GaussianMixture::ring8();
  auto vp = std::make_shared<VPSDE>();
  auto with = [&](const std::string& s, auto set, std::shared_ptr<const Process> p = nullptr,
                  int64_t n = 4) {
    return [&, s, set, p, n] {
      SamplerOptions o;
      o.steps = 3;
      set(o);
      MixtureDenoiser d(ring, p ? p : process_for(s));
      sample(s, d, Shape({n, 2}), o);
    };
  };
  auto none = [](SamplerOptions&) {};
  expect_error(with("ddpm", none),
               {"unknown sampler 'ddpm'", "ancestral", "ode-rk45", "dpm-solver++", "walk-jump"});
  expect_error([] { sampler_default_steps("heun"); }, {"unknown sampler 'heun'", "ode-heun"});
  expect_error(with("ode-heun", [](SamplerOptions& o) { o.steps = -1; }),
               {"ode-heun", "steps", "-1"});
  expect_error(with("ddim", [](SamplerOptions& o) { o.eta = -0.5; }), {"ddim", "eta", "-0.5"});
  expect_error(with("ddim", [](SamplerOptions& o) { o.eta = 1.5; }), {"ddim", "eta", "1.5"});
  expect_error(with("pc", [](SamplerOptions& o) { o.snr = 0; }), {"pc", "snr", "0"});
  expect_error(with("pc", [](SamplerOptions& o) { o.corrector_steps = -2; }),
               {"pc", "corrector_steps", "-2"});
  expect_error(with("ode-rk45", [](SamplerOptions& o) { o.rtol = 0; }), {"ode-rk45", "rtol"});
  expect_error(with("ode-rk45", [](SamplerOptions& o) { o.atol = -1; }),
               {"ode-rk45", "atol", "-1"});
  expect_error(with("euler-maruyama", none, nullptr, 0), {"euler-maruyama", "[0, 2]", "no samples"});
  // The DDPM samplers need the training steps of a discrete process.
  expect_error(with("ancestral", none, vp), {"ancestral", "discrete DDPM", "'vp'"});
  expect_error(with("ddim", none, std::make_shared<VESDE>()), {"ddim", "discrete DDPM", "'ve'"});
  expect_error(with("ddim", [](SamplerOptions& o) { o.steps = 2000; }),
               {"ddim", "2000", "1000 training steps", "ddpm-linear"});
  // rk45 cannot meet a tight tolerance within 3 step attempts: an error, not a hang.
  expect_error(with("ode-rk45",
                    [](SamplerOptions& o) {
                      o.rtol = o.atol = 1e-6;
                    }),
               {"ode-rk45", "did not reach t_min", "3 step attempts", "rtol"});
}

}  // namespace
}  // namespace mindiff
