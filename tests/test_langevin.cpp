// The Langevin family (diffusion/langevin_walk.h and the sample_*.cpp files of langevin, mala,
// annealed-langevin, walk-jump, multi-measurement, jms) and stochastic localisation, checked
// against what is known exactly:
//   * the update rules: on a Gaussian the overdamped chain's stationary variance is
//     v / (1 - gamma / (2 v)) and the underdamped (BAOAB) chain's is v, at any stable step;
//   * energies: the score is -grad f, and at a large step MALA samples e^{-f} exactly where the
//     unadjusted chain does not;
//   * walk-jump's walk has the law q_sigma of X + sigma N, and its jump is E[X | y];
//   * multi-measurement gets measurably closer to the data as m grows, and jms samples what
//     walk-jump at sigma / sqrt(m) samples;
//   * defaults follow the walk rules; trajectories run from the start to the returned samples;
//     bad options are errors naming the sampler and the value.
// Statistical thresholds are estimated inside each test: the 95th percentile, over kNullReps
// repetitions, of the same statistic between two independent exact sample sets of the same size.
// (Every sampler's defaults are checked on the ring and in 16-D by test_sampler_acceptance.cpp.)
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "diffusion/gmm.h"
#include "diffusion/langevin_walk.h"
#include "diffusion/metrics.h"
#include "diffusion/noise.h"
#include "diffusion/sample_check.h"
#include "diffusion/sampler.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;

constexpr int64_t kN = 1000;          // samples per set: enough to see a misplaced or missing mode
constexpr int kNullReps = 30;         // exact-vs-exact repetitions behind each 95th percentile
constexpr double kTweedieTol = 1e-4;  // float rounding of E[X | y] computed two ways (|x| <= 6)

// The law of X + sigma N for X ~ mixture: every component's variance grows by sigma^2.
GaussianMixture noised(GaussianMixture m, double sigma) {
  for (double& s : m.stds) s = std::sqrt(s * s + sigma * sigma);
  return m;
}

double max_weight_error(const Tensor& x, const GaussianMixture& target) {
  const std::vector<double> w = mode_weights(x, target);
  double e = 0;
  for (size_t k = 0; k < w.size(); ++k) e = std::max(e, std::fabs(w[k] - target.weights[k]));
  return e;
}

double p95(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::ceil(0.95 * v.size())) - 1];
}

// 95th percentile of the energy distance between independent sets of kN rows of draw(seed).
double null_energy(const std::function<Tensor(uint64_t)>& draw, uint64_t seed) {
  std::vector<double> ed;
  for (int r = 0; r < kNullReps; ++r)
    ed.push_back(energy_distance(draw(seed + 2 * r), draw(seed + 2 * r + 1)));
  return p95(ed);
}

Tensor exact_samples(const GaussianMixture& law, uint64_t seed) {
  Generator g(seed);
  return law.sample(kN, g);
}

std::shared_ptr<MixtureDenoiser> ring_denoiser(std::shared_ptr<const Process> process) {
  return std::make_shared<MixtureDenoiser>(GaussianMixture::ring8(), std::move(process));
}

// The sample variance of every coordinate, pooled.
double pooled_variance(const Tensor& x) {
  const std::vector<float> v = x.to_vector();
  const int64_t n = x.size(0), d = x.numel() / n;
  double total = 0;
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, ss = 0;
    for (int64_t i = 0; i < n; ++i) mean += v[i * d + j] / double(n);
    for (int64_t i = 0; i < n; ++i) ss += (v[i * d + j] - mean) * (v[i * d + j] - mean);
    total += ss / (n - 1);
  }
  return total / d;
}

TEST(Langevin, StationaryVariancesOfTheUpdateRules) {
  // q = N(0, v I) in 2-D: one component of std 0.6 seen at level s = 0.3 on a VE process, so
  // v = 0.45. At gamma = v the overdamped chain's variance is v / (1 - 1/2) = 2 v; BAOAB at
  // h = sqrt(v) (h w = 1) keeps v. 4000 samples of 2 coordinates estimate a variance to 1.6%
  // (sqrt(2 / 8000)); kTol is 5 of those.
  constexpr double kTol = 0.08;
  GaussianMixture g;
  g.weights = {1.0};
  g.means = {{0.0, 0.0}};
  g.stds = {0.6};
  const MixtureDenoiser d(g, std::make_shared<VESDE>());
  const double s = 0.3, v = 0.36 + 0.09;
  SamplerOptions o;
  o.sigma = s;
  o.seed = 17;
  o.steps = 400;  // many relaxation times of either chain
  o.walk = Walk::Overdamped;
  o.step_size = v;
  const double over = pooled_variance(sample("langevin", d, Shape({4000, 2}), o).x);
  EXPECT_NEAR(over / (v / (1 - o.step_size / (2 * v))), 1.0, kTol) << "overdamped: " << over;
  o.walk = Walk::Underdamped;
  o.step_size = std::sqrt(v);
  o.friction = 1.0;
  const double under = pooled_variance(sample("langevin", d, Shape({4000, 2}), o).x);
  EXPECT_NEAR(under / v, 1.0, kTol) << "underdamped: " << under;
}

TEST(Langevin, EnergyScoreIsMinusGradF) {
  // Closed forms: double well grad f = (4 h x1 (x1^2 - 1), x2) with h = 2; banana with
  // u = x2 - x1^2/4 + 1: grad f = (x1 / 4 - 2 u x1, 4 u); funnel: (x1 e^{-v},
  // v / 9 + 1/2 - x1^2 e^{-v} / 2).
  const Tensor x = from_data({0.3f, -1.2f, -1.4f, 0.5f, 2.0f, 0.1f}, Shape({3, 2}));
  const std::vector<float> p = x.to_vector();
  for (const std::string& name : energy_names()) {
    const std::vector<float> got = make_energy(name)->score(x).to_vector();
    for (int i = 0; i < 3; ++i) {
      const double x1 = p[2 * i], x2 = p[2 * i + 1];
      double g1 = 0, g2 = 0;
      if (name == "double-well") {
        g1 = 8 * x1 * (x1 * x1 - 1), g2 = x2;
      } else if (name == "banana") {
        const double u = x2 - x1 * x1 / 4 + 1;
        g1 = x1 / 4 - 2 * u * x1, g2 = 4 * u;
      } else {
        g1 = x1 * std::exp(-x2), g2 = x2 / 9 + 0.5 - x1 * x1 * std::exp(-x2) / 2;
      }
      EXPECT_NEAR(got[2 * i], -g1, 1e-4 * (1 + std::fabs(g1))) << name << " row " << i;
      EXPECT_NEAR(got[2 * i + 1], -g2, 1e-4 * (1 + std::fabs(g2))) << name << " row " << i;
    }
  }
}

TEST(Langevin, MalaIsExactAtAStepWhereTheUnadjustedChainIsNot) {
  // The banana at gamma = 0.1, twice the step its curvature bound (20) allows the default rule:
  // MALA, accepting about 85% of its proposals, samples it exactly. The unadjusted chain does
  // not: its samples are too wide across the banana (measured: energy distance 5.6 times the
  // exact-vs-exact 95th percentile at n = 2000 after 400 steps), and since f grows like x1^4 a
  // step that overshoots far enough is never undone, so over a long run some samples leave for
  // good (the unadjusted chain is transient there, Roberts & Tweedie 1996) -- either failure
  // counts here.
  const auto banana = make_energy("banana");
  const double null = null_energy([&](uint64_t s) { return banana->exact_samples(kN, s); }, 900);
  const Tensor exact = banana->exact_samples(kN, 77);
  SamplerOptions o;
  o.seed = 3;
  o.step_size = 0.1;
  o.steps = 2000;  // long enough for both to forget their start: this is about the stationary law
  const SampleResult mala = sample("mala", *banana, Shape({kN, 2}), o);
  const SampleResult ula = sample("langevin", *banana, Shape({kN, 2}), o);
  EXPECT_GT(mala.acceptance, 0.7);
  EXPECT_LT(mala.acceptance, 0.95);
  EXPECT_EQ(non_finite_rows(mala.x), 0);
  EXPECT_LT(energy_distance(mala.x, exact), null) << "null 95th percentile " << null;
  const int64_t diverged = non_finite_rows(ula.x);
  EXPECT_TRUE(diverged > 0 || energy_distance(ula.x, exact) > 2 * null)
      << "the unadjusted chain at gamma = 0.1 neither diverged nor missed the banana";
}

TEST(Langevin, EnergiesWithTheirDefaultsReachTheirLaw) {
  // Both chains with their default steps on the double well and the banana (the funnel is there
  // to show where a fixed step fails: its neck is undersampled, docs/samplers.md).
  for (const char* name : {"double-well", "banana"}) {
    const auto e = make_energy(name);
    const double null = null_energy([&](uint64_t s) { return e->exact_samples(kN, s); }, 300);
    for (const char* sampler : {"langevin", "mala"}) {
      SamplerOptions o;
      o.seed = 5;
      const Tensor x = sample(sampler, *e, Shape({kN, 2}), o).x;
      EXPECT_LT(energy_distance(x, e->exact_samples(kN, 41)), 1.5 * null)
          << sampler << " on " << name;
    }
  }
}

TEST(Langevin, WalkMatchesNoisyDensityAndJumpIsPosteriorMean) {
  const double sigma = 0.5;
  const GaussianMixture ring = GaussianMixture::ring8(), q = noised(ring, sigma);
  const double null_walk = null_energy([&](uint64_t s) { return exact_samples(q, s); }, 400);
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.seed = 5;
  o.sigma = sigma;
  // One frame per step: the descent's kDescentSteps, the walk's start and steps, then the jump.
  const int steps = diffusion::detail::kDescentSteps + resolve_options("walk-jump", *d, o).steps;
  o.trajectory_frames = steps + 2;
  const SampleResult r = sample("walk-jump", *d, Shape({kN, 2}), o);
  const Tensor y = r.trajectory[steps];  // the walk's last state, from which it jumped
  EXPECT_LT(energy_distance(y, exact_samples(q, 29)), null_walk);
  // The jump is E[X | y] of the mixture (gmm.h), elementwise ...
  test::expect_near_all(r.x.to_vector(), ring.posterior_mean(y, {1.0}, {sigma}).to_vector(),
                        kTweedieTol);
  // ... so the jumps have the law of E[X | X + sigma N].
  auto jumps = [&](uint64_t s) { return ring.posterior_mean(exact_samples(q, s), {1.0}, {sigma}); };
  EXPECT_LT(energy_distance(r.x, jumps(31)), null_energy(jumps, 500));
}

// The VE view: on a VP process y = x_t / alpha(t) has the same law X + sigma N, and its score is
// alpha score(alpha y, t), so with the same noise the walk and jump agree with the VE run up to
// float rounding.
TEST(Langevin, WalkJumpOnVpProcessMatchesVe) {
  SamplerOptions o;
  o.seed = 8;
  o.steps = 200;
  const SampleResult ve =
      sample("walk-jump", *ring_denoiser(std::make_shared<VESDE>()), Shape({64, 2}), o);
  const SampleResult vp =
      sample("walk-jump", *ring_denoiser(std::make_shared<VPSDE>()), Shape({64, 2}), o);
  // 200 contracting steps keep float differences (1e-6 relative per step) well below 1e-3.
  test::expect_near_all(vp.x.to_vector(), ve.x.to_vector(), 1e-3f);
}

TEST(Langevin, MultiMeasurementGetsCloserToDataAsMGrows) {
  // sigma = 0.5. The jump E[X | ybar_m] at level tau = sigma / sqrt(m) shrinks each mode: alone,
  // a component N(mu, s^2 I) would come out with spread s^2 / sqrt(s^2 + tau^2): 0.354 (m = 1),
  // 0.447 (m = 4), 0.485 (m = 16) against the data's 0.5 (Bach: W2(X, E[X | Y_1..Y_m])^2 <=
  // sigma^2 d / m). Each step of m must close the gap to the data by more than the
  // exact-vs-exact 95th percentile of the gap.
  const double sigma = 0.5;
  const GaussianMixture ring = GaussianMixture::ring8();
  auto mean_spread = [&](const Tensor& x) {
    const std::vector<double> s = mode_spreads(x, ring);
    double mean = 0;
    for (double v : s) mean += v / s.size();
    return mean;
  };
  std::vector<double> null_gap;
  for (int rep = 0; rep < kNullReps; ++rep)
    null_gap.push_back(std::fabs(mean_spread(exact_samples(ring, 600 + 2 * rep)) -
                                 mean_spread(exact_samples(ring, 601 + 2 * rep))));
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  std::vector<double> gap;
  for (int m : {1, 4, 16}) {
    SamplerOptions o;
    o.seed = 12;
    o.sigma = sigma;
    o.measurements = m;
    const SamplerOptions ro = resolve_options("multi-measurement", *d, o);
    const int total =
        diffusion::detail::kDescentSteps + ro.steps + (m - 1) * ro.measurement_steps;
    o.trajectory_frames = total + 2;  // one per step (the descent's first), then the jump
    const SampleResult r = sample("multi-measurement", *d, Shape({kN, 2}), o);
    gap.push_back(0.5 - mean_spread(r.x));
    // The jump is E[X | ybar_m] at level sigma / sqrt(m), ybar_m the last frame of the walks ...
    const double level = sigma / std::sqrt(m);
    const Tensor ybar = r.trajectory[total];
    test::expect_near_all(r.x.to_vector(), ring.posterior_mean(ybar, {1.0}, {level}).to_vector(),
                          kTweedieTol);
    // ... and ybar_m has the law of X + (sigma / sqrt m) N, with balanced modes.
    const GaussianMixture ybar_law = noised(ring, level);
    EXPECT_LT(energy_distance(ybar, exact_samples(ybar_law, 43)),
              null_energy([&](uint64_t s) { return exact_samples(ybar_law, s); }, 700 + 100 * m))
        << "m = " << m;
  }
  EXPECT_GT(gap[0] - gap[1], p95(null_gap)) << "m = 1: " << gap[0] << ", m = 4: " << gap[1];
  EXPECT_GT(gap[1] - gap[2], p95(null_gap)) << "m = 4: " << gap[1] << ", m = 16: " << gap[2];
}

TEST(Langevin, JointMeasurementsSampleWhatWalkJumpSamplesAtSigmaOverSqrtM) {
  // jms with sigma = 0.8, m = 4 jumps at level 0.4: its samples must have the law of
  // E[X | X + 0.4 N] (sample_jms.cpp: the joint walk's ybar is walk-jump's walk at 0.4).
  const GaussianMixture ring = GaussianMixture::ring8(), q = noised(ring, 0.4);
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.seed = 6;
  o.sigma = 0.8;
  o.measurements = 4;
  const Tensor x = sample("jms", *d, Shape({kN, 2}), o).x;
  auto jumps = [&](uint64_t s) { return ring.posterior_mean(exact_samples(q, s), {1.0}, {0.4}); };
  EXPECT_LT(energy_distance(x, jumps(51)), null_energy(jumps, 800));
  EXPECT_LT(max_weight_error(x, ring), 0.05);
}

TEST(Langevin, StochasticLocalizationEndsWithItsPosteriorMean) {
  // With denoise_final the result is E[X | y] at sigma_min of the last state y (the last frame
  // before the returned one).
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.seed = 2;
  o.steps = 20;
  o.denoise_final = true;
  o.trajectory_frames = 22;  // the start, 20 steps, the posterior mean
  const SampleResult r = sample("stochastic-localization", *d, Shape({16, 2}), o);
  EXPECT_EQ(r.evaluations, 21);
  const double s_min = 0.01;  // ve
  test::expect_near_all(
      r.x.to_vector(),
      GaussianMixture::ring8().posterior_mean(r.trajectory[20], {1.0}, {s_min}).to_vector(),
      kTweedieTol);
}

TEST(Langevin, DefaultsFollowTheWalkRules) {
  using diffusion::detail::kRelaxations;
  using diffusion::detail::kWarmStartRelaxations;
  const auto d = ring_denoiser(make_process("ddpm-linear"));
  const double s = diffusion::detail::kWalkLevel, spread = std::sqrt(1 + s * s);
  SamplerOptions o;
  const SamplerOptions lang = resolve_options("langevin", *d, o);
  EXPECT_EQ(lang.walk, Walk::Overdamped);
  EXPECT_EQ(lang.start, ChainStart::Descent);
  EXPECT_DOUBLE_EQ(lang.sigma, s);
  EXPECT_DOUBLE_EQ(lang.step_size, diffusion::detail::kOverdampedStep * s * s);
  EXPECT_EQ(lang.steps, static_cast<int>(std::ceil(kWarmStartRelaxations * spread * spread /
                                                   lang.step_size)));
  const SamplerOptions wj = resolve_options("walk-jump", *d, o);
  EXPECT_EQ(wj.walk, Walk::Underdamped);
  EXPECT_DOUBLE_EQ(wj.step_size, diffusion::detail::kUnderdampedStep * s);
  EXPECT_DOUBLE_EQ(wj.friction, 2 / spread);
  // Critical damping of the slowest direction: it relaxes at rate 1 / S, kWarmStartRelaxations
  // times after the default start, kRelaxations times from noise.
  EXPECT_EQ(wj.steps,
            static_cast<int>(std::ceil(kWarmStartRelaxations * spread / wj.step_size)));
  SamplerOptions from_noise;
  from_noise.start = ChainStart::Noise;
  EXPECT_EQ(resolve_options("walk-jump", *d, from_noise).steps,
            static_cast<int>(std::ceil(kRelaxations * spread / wj.step_size)));
  EXPECT_EQ(resolve_options("langevin", *d, from_noise).steps,
            static_cast<int>(std::ceil(kRelaxations * spread * spread / lang.step_size)));
  const SamplerOptions mm = resolve_options("multi-measurement", *d, o);
  EXPECT_DOUBLE_EQ(mm.sigma, diffusion::detail::kMeasurementLevel);
  EXPECT_EQ(mm.measurements, diffusion::detail::kMeasurements);
  EXPECT_GT(mm.measurement_steps, 0);
  // A step given explicitly sets the step count through the same rule.
  o.step_size = 0.05;
  EXPECT_EQ(resolve_options("walk-jump", *d, o).steps,
            static_cast<int>(std::ceil(kWarmStartRelaxations * spread / 0.05)));
  // An energy has no levels: its chain starts from noise and walks kRelaxations.
  EXPECT_EQ(resolve_options("langevin", *make_energy("banana"), SamplerOptions{}).start,
            ChainStart::Noise);
}

// At the default friction 2 / S the slowest direction is critically damped, where rounding can
// put l^2 - 4 w^2 a hair below 0: `sample --sampler multi-measurement --sigma 0.25` resolved to
// -2147483648 steps (the root of a negative number). Every level gives the critical count.
TEST(Langevin, CriticallyDampedWalksResolveToTheirStepCount) {
  const auto d = ring_denoiser(make_process("ddpm-linear"));
  for (const ChainStart start : {ChainStart::Noise, ChainStart::Descent}) {
    const double relaxations = start == ChainStart::Noise
                                   ? diffusion::detail::kRelaxations
                                   : diffusion::detail::kWarmStartRelaxations;
    for (double sigma : {0.1, 0.2, 0.25, 0.3, 0.5}) {
      SamplerOptions o;
      o.sigma = sigma;
      o.start = start;
      const double spread = std::sqrt(1 + sigma * sigma);
      for (const char* sampler : {"walk-jump", "multi-measurement"}) {
        const SamplerOptions r = resolve_options(sampler, *d, o);
        // ceil of relaxations S / h, give or take the rounding of the critical rate.
        EXPECT_NEAR(r.steps, relaxations * spread / r.step_size, 1.0)
            << sampler << " at sigma " << sigma << ", start " << chain_start_name(start);
      }
    }
  }
}

// The point of the descent: a chain at a small level cannot move samples between modes far
// apart, so from noise its modes keep the shares in which the start fell into their basins --
// half and half for two modes placed symmetrically about 0 -- whatever their weights; from the
// descent they get their weights. Two modes of weights 0.8 and 0.2 at -+3 (1, 1), std 0.5, each
// chain with its defaults but for the start. 1000 samples estimate a weight to 0.013 (one
// standard error); kWeightTol is 4 of them, while the noise start is off by 0.3.
TEST(Langevin, TheDescentStartGivesUnbalancedModesTheirWeights) {
  constexpr double kWeightTol = 0.05;
  GaussianMixture g;
  g.weights = {0.8, 0.2};
  g.means = {{-3.0, -3.0}, {3.0, 3.0}};
  g.stds = {0.5, 0.5};
  const MixtureDenoiser d(g, make_process("ddpm-linear"));
  for (const char* sampler : {"langevin", "mala", "walk-jump", "multi-measurement", "jms"}) {
    SamplerOptions o;
    o.seed = 4;
    const double descent = mode_weights(sample(sampler, d, Shape({kN, 2}), o).x, g)[0];
    EXPECT_NEAR(descent, 0.8, kWeightTol) << sampler << " from the descent";
    o.start = ChainStart::Noise;
    const double noise = mode_weights(sample(sampler, d, Shape({kN, 2}), o).x, g)[0];
    EXPECT_NEAR(noise, 0.5, kWeightTol) << sampler << " from noise";
  }
}

// Frames: the first is the starting noise (draw 0 of step_noise, scaled), the last the returned
// samples, all distinct in between.
TEST(Langevin, TrajectoryRunsFromStartToReturnedSamples) {
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.seed = 8;
  o.first_index = 3;
  o.steps = 12;
  o.trajectory_frames = 5;
  o.denoise_final = true;
  const Shape shape({6, 2});
  const Tensor z = step_noise(shape, 8, 0, 3);
  const double walk = std::sqrt(1 + diffusion::detail::kWalkLevel * diffusion::detail::kWalkLevel);
  const double measure =
      std::sqrt(1 + diffusion::detail::kMeasurementLevel * diffusion::detail::kMeasurementLevel);
  const std::vector<std::pair<std::string, double>> family = {
      {"annealed-langevin", std::sqrt(1 + 50.0 * 50.0)},
      {"langevin", walk},
      {"mala", walk},
      {"walk-jump", walk},
      {"multi-measurement", measure},
      {"stochastic-localization", std::sqrt(1 + 50.0 * 50.0)}};
  for (const auto& [name, scale] : family) {
    SamplerOptions named = o;
    // The one-level chains from noise (the descent's start is another test's).
    if (name != "annealed-langevin" && name != "stochastic-localization")
      named.start = ChainStart::Noise;
    const SampleResult r = sample(name, *d, shape, named);
    ASSERT_EQ(r.trajectory.size(), 5u) << name;
    test::expect_near_all(r.trajectory.front().to_vector(),
                          (z * static_cast<float>(scale)).to_vector(), 1e-5f);
    EXPECT_TRUE(r.trajectory.back().same_as(r.x)) << name;
    for (size_t j = 1; j < 5; ++j) {
      const std::vector<float> a = r.trajectory[j].to_vector(), b = r.trajectory[j - 1].to_vector();
      EXPECT_NE(a, b) << name << " frame " << j;
    }
  }
}

// From the descent the trajectory starts at the prior (draw 0 times the process's prior std) and
// runs through the descent's states (in x_t) and the walk to the returned samples.
TEST(Langevin, DescentTrajectoriesRunFromThePrior) {
  const auto process = make_process("ddpm-linear");
  const auto d = ring_denoiser(process);
  SamplerOptions o;
  o.seed = 8;
  o.steps = 12;
  o.trajectory_frames = 8;
  const Shape shape({6, 2});
  const Tensor prior = step_noise(shape, 8, 0, 0) * static_cast<float>(process->prior_std());
  for (const char* name : {"langevin", "walk-jump", "multi-measurement", "jms"}) {
    const SampleResult r = sample(name, *d, shape, o);
    ASSERT_EQ(r.trajectory.size(), 8u) << name;
    test::expect_near_all(r.trajectory.front().to_vector(), prior.to_vector(), 1e-6f);
    EXPECT_TRUE(r.trajectory.back().same_as(r.x)) << name;
    for (size_t j = 1; j < 8; ++j)
      EXPECT_NE(r.trajectory[j].to_vector(), r.trajectory[j - 1].to_vector())
          << name << " frame " << j;
  }
}

// The names of the walks and starts, both ways, and what an unknown one says.
TEST(Langevin, WalkAndStartNamesRoundTrip) {
  for (const Walk w : {Walk::Overdamped, Walk::Underdamped}) EXPECT_EQ(parse_walk(walk_name(w)), w);
  for (const ChainStart c : {ChainStart::Noise, ChainStart::Descent})
    EXPECT_EQ(parse_chain_start(chain_start_name(c)), c);
  EXPECT_EQ(walk_name(Walk::Default), "default");
  EXPECT_EQ(chain_start_name(ChainStart::Default), "default");
  test::expect_error([] { parse_walk("sideways"); },
                     {"unknown walk 'sideways' (overdamped or underdamped)"});
  test::expect_error([] { parse_chain_start("middle"); },
                     {"unknown chain start 'middle' (noise or descent)"});
}

TEST(Langevin, ErrorsNameTheSamplerAndTheProblem) {
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  auto run = [&](const std::string& s, auto set) {
    return [&, s, set] {
      SamplerOptions o;
      set(o);
      sample(s, *d, Shape({4, 2}), o);
    };
  };
  test::expect_error(run("walk-jump", [](SamplerOptions& o) { o.sigma = 100; }),
                     {"walk-jump", "100", "outside"});
  test::expect_error(run("multi-measurement", [](SamplerOptions& o) { o.measurements = -1; }),
                     {"multi-measurement", "measurements", "-1"});
  test::expect_error(run("annealed-langevin", [](SamplerOptions& o) { o.levels = 1; }),
                     {"annealed-langevin", "levels", "1"});
  test::expect_error(
      run("annealed-langevin", [](SamplerOptions& o) { o.sigma_min = 2, o.sigma_max = 1; }),
      {"annealed-langevin", "sigma_min", "2"});
  test::expect_error(run("langevin", [](SamplerOptions& o) { o.step_size = -0.1; }),
                     {"langevin", "step size", "-0.1"});
  test::expect_error(run("ode-heun", [](SamplerOptions& o) { o.walk = Walk::Underdamped; }),
                     {"ode-heun", "walk", "underdamped"});
  test::expect_error(run("ode-heun", [](SamplerOptions& o) { o.sigma = 0.3; }),
                     {"ode-heun", "does not take sigma", "0.3"});
  test::expect_error(run("langevin", [](SamplerOptions& o) { o.friction = 1; }),
                     {"langevin", "friction", "underdamped"});
  test::expect_error(run("mala", [](SamplerOptions& o) { o.walk = Walk::Underdamped; }),
                     {"mala", "overdamped"});
  test::expect_error(run("ode-heun", [](SamplerOptions& o) { o.start = ChainStart::Noise; }),
                     {"ode-heun", "does not take a chain start", "noise"});
  test::expect_error(
      run("annealed-langevin", [](SamplerOptions& o) { o.start = ChainStart::Descent; }),
      {"annealed-langevin", "chain start", "descent"});
  const auto banana = make_energy("banana");
  test::expect_error(
      [&] {
        sample("ddim", *banana, Shape({4, 2}), SamplerOptions{});
      },
      {"ddim", "energy", "langevin or mala"});
  test::expect_error(
      [&] {
        sample("langevin", *banana, Shape({4, 3}), SamplerOptions{});
      },
      {"langevin", "banana", "2-dimensional"});
  SamplerOptions sig;
  sig.sigma = 0.1;
  test::expect_error(
      [&] {
        sample("langevin", *banana, Shape({4, 2}), sig);
      },
      {"langevin", "energy", "sigma"});
  SamplerOptions descend;
  descend.start = ChainStart::Descent;
  test::expect_error(
      [&] {
        sample("langevin", *banana, Shape({4, 2}), descend);
      },
      {"langevin", "energy", "noise levels to descend"});
}

}  // namespace
}  // namespace mindiff
