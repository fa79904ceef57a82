// The Langevin family (diffusion/langevin.h) on the 8-Gaussian ring, whose score, noised densities
// and posterior means are exact (gmm.h), so each claim is checked against the truth:
//   * plain and annealed Langevin reach the target;
//   * the walk of walk-jump has the law q_sigma of X + sigma N, and its jump is E[X | y];
//   * multi-measurement sampling gets measurably closer to the data as m grows, and its jump has
//     the law of E[X | X + (sigma / sqrt m) N].
// Statistical thresholds are estimated inside each test: the 95th percentile, over kNullReps
// repetitions, of the same statistic between two independent exact sample sets of the same size.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "diffusion/gmm.h"
#include "diffusion/langevin.h"
#include "diffusion/metrics.h"
#include "diffusion/noise.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;

constexpr int64_t kN = 1000;   // samples per set: enough to see a misplaced or missing mode
constexpr int kNullReps = 30;  // exact-vs-exact repetitions behind each 95th percentile
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

// 95th percentiles of the energy distance and of the largest mode-weight error between
// independent exact sets of kN rows drawn from `law` (mode weights judged against `modes`).
struct NullThresholds {
  double energy = 0, weights = 0;
};
NullThresholds null_thresholds(const GaussianMixture& law, const GaussianMixture& modes,
                               uint64_t seed) {
  std::vector<double> ed, we;
  for (int r = 0; r < kNullReps; ++r) {
    Generator g1(seed + 2 * r), g2(seed + 2 * r + 1);
    const Tensor a = law.sample(kN, g1), b = law.sample(kN, g2);
    ed.push_back(energy_distance(a, b));
    we.push_back(max_weight_error(a, modes));
  }
  std::sort(ed.begin(), ed.end());
  std::sort(we.begin(), we.end());
  const size_t q = static_cast<size_t>(std::ceil(0.95 * kNullReps)) - 1;
  return {ed[q], we[q]};
}

Tensor exact_samples(const GaussianMixture& law, uint64_t seed) {
  Generator g(seed);
  return law.sample(kN, g);
}

std::shared_ptr<MixtureDenoiser> ring_denoiser(std::shared_ptr<const Process> process) {
  return std::make_shared<MixtureDenoiser>(GaussianMixture::ring8(), std::move(process));
}

TEST(Langevin, PlainLangevinOnExactScoreReachesRing) {
  const GaussianMixture ring = GaussianMixture::ring8();
  const NullThresholds null = null_thresholds(ring, ring, 100);
  // Started from N(0, 3^2 I): isotropic, so every mode gets 1/8 of the starts by symmetry (plain
  // Langevin cannot move mass between modes 3 apart). gamma = 0.01 on components of variance
  // 0.25: contraction 0.04 per step, so 500 steps forget the start; the variance of the
  // discretised chain is 0.25 / (1 - 0.02), 1% wider in std, far below what kN samples resolve.
  SamplerOptions o;
  o.seed = 7;
  const Tensor x0 = randn(Shape({kN, 2}), 11) * 3.0f;
  const Tensor x = langevin([&](const Tensor& v) { return ring.score(v, {1.0}, {0.0}); }, x0, 500,
                            0.01, o);
  const double ed = energy_distance(x, exact_samples(ring, 5));
  EXPECT_LT(ed, null.energy) << "null 95th percentile " << null.energy;
  EXPECT_LT(max_weight_error(x, ring), null.weights);
}

TEST(Langevin, PlainLangevinOnDenoiserReachesRing) {
  const GaussianMixture ring = GaussianMixture::ring8();
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  const GaussianMixture target = noised(ring, 0.01);  // p_{t_min}: sigma(t_min) = 0.01
  const NullThresholds null = null_thresholds(target, ring, 200);
  // From the VE prior N(0, 50^2 I) (isotropic: balanced modes), 700 steps of gamma = 0.01:
  // distance 70 contracts by e^{-0.04 k}, below 0.01 after ~220 steps.
  SamplerOptions o;
  o.seed = 3;
  o.steps = 700;
  o.step_size = 0.01;
  const SampleResult r = langevin_on_denoiser(*d, Shape({kN, 2}), o);
  EXPECT_EQ(r.evaluations, 700);
  EXPECT_LT(energy_distance(r.x, exact_samples(target, 9)), null.energy);
  EXPECT_LT(max_weight_error(r.x, ring), null.weights);
}

// NCSN Alg. 1 with its defaults (L = 10 geometric levels 50 -> 0.01, T = 100, gamma_i =
// 0.2 sigma_i^2) on a VE process, and the same on a VP process through y = x_t / alpha(t).
TEST(Langevin, AnnealedLangevinDefaultsReachRing) {
  const GaussianMixture ring = GaussianMixture::ring8();
  const NullThresholds null = null_thresholds(ring, ring, 300);
  for (const std::shared_ptr<const Process>& p :
       {std::shared_ptr<const Process>(std::make_shared<VESDE>()),
        std::shared_ptr<const Process>(std::make_shared<VPSDE>())}) {
    SCOPED_TRACE(p->name());
    SamplerOptions o;
    o.seed = 21;
    o.trajectory_frames = 3;
    const SampleResult r = annealed_langevin(*ring_denoiser(p), Shape({kN, 2}), o);
    EXPECT_EQ(r.evaluations, 1000);
    ASSERT_EQ(r.trajectory.size(), 3u);
    EXPECT_TRUE(r.trajectory.back().same_as(r.x));
    EXPECT_LT(energy_distance(r.x, exact_samples(ring, 19)), null.energy);
    EXPECT_LT(max_weight_error(r.x, ring), null.weights);
  }
}

TEST(Langevin, WalkMatchesNoisyDensityAndJumpIsPosteriorMean) {
  const double sigma = 0.5;
  const GaussianMixture ring = GaussianMixture::ring8(), q = noised(ring, sigma);
  const NullThresholds null_walk = null_thresholds(q, ring, 400);
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  // Walk: gamma = 0.1 sigma^2 = 0.025 on components of variance 0.5 (contraction 0.05 per step,
  // 600 steps), from the isotropic N(0, 1.25 I): balanced modes.
  SamplerOptions o;
  o.seed = 5;
  o.sigma = sigma;
  o.steps = 600;
  o.trajectory_frames = 602;  // one per step: the start, 600 walk steps, the jump
  const SampleResult r = walk_jump(*d, Shape({kN, 2}), o);
  EXPECT_EQ(r.evaluations, 601);
  ASSERT_EQ(r.trajectory.size(), 602u);
  EXPECT_TRUE(r.trajectory.back().same_as(r.x));
  const Tensor y = r.trajectory[600];  // the walk's last state, from which it jumped
  EXPECT_LT(energy_distance(y, exact_samples(q, 29)), null_walk.energy);
  EXPECT_LT(max_weight_error(y, ring), null_walk.weights);

  // The jump is E[X | y] of the mixture (gmm.h), elementwise.
  test::expect_near_all(r.x.to_vector(), ring.posterior_mean(y, {1.0}, {sigma}).to_vector(),
                        kTweedieTol);
  // ... so the jumps have the law of E[X | X + sigma N].
  Generator g(31);
  const Tensor exact_y = q.sample(kN, g);
  const Tensor exact_jump = ring.posterior_mean(exact_y, {1.0}, {sigma});
  std::vector<double> null_jump;
  for (int rep = 0; rep < kNullReps; ++rep) {
    Generator g1(500 + 2 * rep), g2(501 + 2 * rep);
    null_jump.push_back(energy_distance(ring.posterior_mean(q.sample(kN, g1), {1.0}, {sigma}),
                                        ring.posterior_mean(q.sample(kN, g2), {1.0}, {sigma})));
  }
  std::sort(null_jump.begin(), null_jump.end());
  EXPECT_LT(energy_distance(r.x, exact_jump),
            null_jump[static_cast<size_t>(std::ceil(0.95 * kNullReps)) - 1]);
}

// The VE view: on a VP process y = x_t / alpha(t) has the same law X + sigma N, and its score is
// alpha score(alpha y, t), so with the same noise the walk and jump agree with the VE run up to
// float rounding.
TEST(Langevin, WalkJumpOnVpProcessMatchesVe) {
  SamplerOptions o;
  o.seed = 8;
  o.steps = 200;
  const SampleResult ve = walk_jump(*ring_denoiser(std::make_shared<VESDE>()), Shape({64, 2}), o);
  const SampleResult vp = walk_jump(*ring_denoiser(std::make_shared<VPSDE>()), Shape({64, 2}), o);
  // 200 contracting steps keep float differences (1e-6 relative per step) well below 1e-3.
  test::expect_near_all(vp.x.to_vector(), ve.x.to_vector(), 1e-3f);
}

// Mean of |x - mu_k(x)|^2, k(x) the component x is assigned to: the spread of the samples
// around the modes (2 s^2 = 0.5 for the ring's data). The energy distance of the raw samples is
// dominated by the ring's radius 4 and hardly sees this spread (its exact-vs-exact 95th
// percentile at kN = 1000, about 0.02, exceeds the whole effect of m).
double spread_around_modes(const Tensor& x, const GaussianMixture& m) {
  const std::vector<int64_t> k = m.assign(x);
  const std::vector<float> v = x.to_vector();
  const int64_t d = m.dim();
  double total = 0;
  for (size_t i = 0; i < k.size(); ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double r = v[i * d + j] - m.means[k[i]][j];
      total += r * r;
    }
  return total / static_cast<double>(k.size());
}

TEST(Langevin, MultiMeasurementGetsCloserToDataAsMGrows) {
  // sigma = 0.5. The jump E[X | ybar_m] at level tau = sigma / sqrt(m) <= 0.5 stays inside the
  // modes and shrinks each one: alone, a component N(mu, s^2 I) would become
  // N(mu, s^4 / (s^2 + tau^2) I), spread 2 s^4 / (s^2 + tau^2) = 0.25 (m = 1), 0.4 (m = 4),
  // 0.47 (m = 16) against the data's 0.5 (Bach: W2(X, E[X | Y_1..Y_m])^2 <= sigma^2 d / m); the
  // neighbouring modes' share of the posterior adds a little (0.31, 0.40, 0.46 from exact jumps).
  // Each step of m must close the gap to the data by more than the exact-vs-exact 95th
  // percentile of |spread - spread'| (about 0.04; the gaps measured are 0.16, 0.08, 0.01).
  const double sigma = 0.5;
  const GaussianMixture ring = GaussianMixture::ring8();
  std::vector<double> null_spread;
  for (int rep = 0; rep < kNullReps; ++rep)
    null_spread.push_back(std::fabs(spread_around_modes(exact_samples(ring, 600 + 2 * rep), ring) -
                                    spread_around_modes(exact_samples(ring, 601 + 2 * rep), ring)));
  std::sort(null_spread.begin(), null_spread.end());
  const double null_gap = null_spread[static_cast<size_t>(std::ceil(0.95 * kNullReps)) - 1];
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  const double data_spread = spread_around_modes(exact_samples(ring, 41), ring);
  std::vector<double> gap;
  for (int m : {1, 4, 16}) {
    SamplerOptions o;
    o.seed = 12;
    o.sigma = sigma;
    o.measurements = m;
    o.steps = 100;  // per measurement; gamma = 0.1 sigma^2 (the default)
    o.trajectory_frames = 100 * m + 2;  // one per step, then the jump
    const SampleResult r = multi_measurement(*d, Shape({kN, 2}), o);
    EXPECT_EQ(r.evaluations, 100 * m + m);
    gap.push_back(std::fabs(spread_around_modes(r.x, ring) - data_spread));
    // The jump is E[X | ybar_m] at level sigma / sqrt(m) ...
    const double level = sigma / std::sqrt(m);
    ASSERT_EQ(r.trajectory.size(), static_cast<size_t>(100 * m + 2));
    const Tensor ybar = r.trajectory[100 * m];
    test::expect_near_all(r.x.to_vector(), ring.posterior_mean(ybar, {1.0}, {level}).to_vector(),
                          kTweedieTol);
    // ... and ybar_m has the law of X + (sigma / sqrt m) N, with balanced modes.
    const GaussianMixture ybar_law = noised(ring, level);
    const NullThresholds null_ybar = null_thresholds(ybar_law, ring, 700 + 100 * m);
    EXPECT_LT(energy_distance(ybar, exact_samples(ybar_law, 43)), null_ybar.energy)
        << "m = " << m;
    EXPECT_LT(max_weight_error(r.x, ring), null_ybar.weights) << "m = " << m;
  }
  EXPECT_GT(gap[0] - gap[1], null_gap) << "gap to the data's spread, m = 1: " << gap[0]
                                       << ", m = 4: " << gap[1];
  EXPECT_GT(gap[1] - gap[2], null_gap) << "m = 4: " << gap[1] << ", m = 16: " << gap[2];
}

// sample() reaches these functions by name (sampler.cpp), with the same results.
TEST(Langevin, DispatchedBySampleByName) {
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.seed = 4;
  o.steps = 5;
  const Shape shape({8, 2});
  const std::vector<std::pair<std::string, SampleResult (*)(const Denoiser&, const Shape&,
                                                            const SamplerOptions&)>>
      family = {{"annealed-langevin", annealed_langevin},
                {"langevin", langevin_on_denoiser},
                {"walk-jump", walk_jump},
                {"multi-measurement", multi_measurement}};
  for (const auto& [name, fn] : family) {
    const SampleResult a = sample(name, *d, shape, o), b = fn(*d, shape, o);
    EXPECT_EQ(a.evaluations, b.evaluations) << name;
    test::expect_near_all(a.x.to_vector(), b.x.to_vector(), 0.0f);
  }
}

// Frames: the first is the starting noise (draw 0 of step_noise, scaled), the last the returned
// samples (after the jump, or the final denoising), all distinct in between.
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
  const double start_std = std::sqrt(1.0 + o.sigma * o.sigma);  // walk-jump, multi-measurement
  const std::vector<std::pair<std::string, double>> family = {
      {"annealed-langevin", 50.0}, {"langevin", 50.0}, {"walk-jump", start_std},
      {"multi-measurement", start_std}};
  for (const auto& [name, scale] : family) {
    const SampleResult r = sample(name, *d, shape, o);
    ASSERT_EQ(r.trajectory.size(), 5u) << name;
    test::expect_near_all(r.trajectory.front().to_vector(),
                          (z * static_cast<float>(scale)).to_vector(), 0.0f);
    EXPECT_TRUE(r.trajectory.back().same_as(r.x)) << name;
    for (size_t j = 1; j < 5; ++j) {
      const std::vector<float> a = r.trajectory[j].to_vector(), b = r.trajectory[j - 1].to_vector();
      EXPECT_NE(a, b) << name << " frame " << j;
    }
  }
}

TEST(Langevin, ErrorsNameTheSamplerAndTheProblem) {
  const auto d = ring_denoiser(std::make_shared<VESDE>());
  SamplerOptions o;
  o.sigma = 100.0;  // above sigma_max = 50
  test::expect_error([&] { walk_jump(*d, Shape({4, 2}), o); }, {"walk-jump", "100", "outside"});
  o.sigma = 0.5;
  o.measurements = 0;
  test::expect_error([&] { multi_measurement(*d, Shape({4, 2}), o); },
                     {"multi-measurement", "measurements"});
  o.measurements = 4;
  o.sigmas = {0.1, 1.0};
  test::expect_error([&] { annealed_langevin(*d, Shape({4, 2}), o); },
                     {"annealed-langevin", "largest first"});
  test::expect_error(
      [&] { langevin([](const Tensor& x) { return x; }, zeros(Shape({2, 2})), 3, -1.0, o); },
      {"langevin", "gamma"});
}

}  // namespace
}  // namespace mindiff
