// Sample-set distances: hand-computed values, exact-vs-exact (null) against shifted samples with
// thresholds estimated from repetitions, mode weights within binomial tolerance, and errors.
#include <algorithm>
#include <cmath>

#include "diffusion/metrics.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using diffusion::energy_distance;
using diffusion::GaussianMixture;
using diffusion::mmd_rbf;
using diffusion::mode_weights;

TEST(Metrics, EnergyDistanceHandValues) {
  // {0} vs {1}: 2 E|X - Y| - E|X - X'| - E|Y - Y'| = 2 * 1 - 0 - 0 = 2.
  EXPECT_DOUBLE_EQ(energy_distance(from_data({0}, {1, 1}), from_data({1}, {1, 1})), 2.0);
  // {0, 2} vs {1}: E|X - Y| = 1, E|X - X'| = (0 + 2 + 2 + 0) / 4 = 1 (V-statistic), E|Y - Y'| = 0,
  // so 2 - 1 - 0 = 1.
  EXPECT_DOUBLE_EQ(energy_distance(from_data({0, 2}, {2, 1}), from_data({1}, {1, 1})), 1.0);
  // 2-D: (0,0) vs (3,4) at distance 5 gives 10. Identical sets give exactly 0.
  EXPECT_DOUBLE_EQ(energy_distance(from_data({0, 0}, {1, 2}), from_data({3, 4}, {1, 2})), 10.0);
  Tensor x = randn(Shape({50, 3}), 1);
  EXPECT_NEAR(energy_distance(x, x), 0.0, 1e-12);
}

TEST(Metrics, MmdHandValue) {
  // x = {0, 2}, y = {1, 3} in 1-D. Pooled pair distances 1, 1, 1, 2, 2, 3: the (upper) median is
  // 2, so h^2 = 4 and k(d) = exp(-d^2 / 8).
  //   kxx = k(2) = e^{-1/2}, kyy = k(2) = e^{-1/2}
  //   kxy = (k(1) + k(3) + k(1) + k(1)) / 4 = (3 e^{-1/8} + e^{-9/8}) / 4
  //   MMD^2_u = 2 e^{-1/2} - (3 e^{-1/8} + e^{-9/8}) / 2 = -0.27301 (the unbiased estimate can
  //   be negative).
  const double want = 2 * std::exp(-0.5) - (3 * std::exp(-0.125) + std::exp(-1.125)) / 2;
  EXPECT_NEAR(mmd_rbf(from_data({0, 2}, {2, 1}), from_data({1, 3}, {2, 1})), want, 1e-7);
  EXPECT_NEAR(want, -0.27301, 1e-5);
}

// Exact-vs-exact values over repetitions give the null distribution; a sample set shifted by
// 1.0 (two component stds, a quarter of the ring radius) must land far above its maximum, and a
// fresh exact set must not.
TEST(Metrics, DetectShiftAboveNullThreshold) {
  GaussianMixture ring = GaussianMixture::ring8();
  const int64_t n = 500;
  const int reps = 20;
  std::vector<double> null_e, null_m;
  Generator gen(100);
  for (int r = 0; r < reps; ++r) {
    Tensor a = ring.sample(n, gen), b = ring.sample(n, gen);
    null_e.push_back(energy_distance(a, b));
    null_m.push_back(mmd_rbf(a, b));
  }
  const double e_max = *std::max_element(null_e.begin(), null_e.end());
  const double m_max = *std::max_element(null_m.begin(), null_m.end());
  EXPECT_GT(e_max, 0.0);
  Tensor ref = ring.sample(n, gen), fresh = ring.sample(n, gen);
  Tensor shifted = ring.sample(n, gen) + from_data({1.0f, 0.0f}, {1, 2});
  const double e_shift = energy_distance(ref, shifted), m_shift = mmd_rbf(ref, shifted);
  // "Far above": at least 3 times the largest null value.
  EXPECT_GT(e_shift, 3 * e_max) << "null max " << e_max;
  EXPECT_GT(m_shift, 3 * m_max) << "null max " << m_max;
  // A fresh exact set is in the null's range (the null's 20 values bound it with prob ~1 - 2/21;
  // this seed is fixed, and 1.5x leaves a margin).
  EXPECT_LT(energy_distance(ref, fresh), 1.5 * e_max);
  EXPECT_LT(mmd_rbf(ref, fresh), 1.5 * m_max);
}

TEST(Metrics, ModeWeightsOfExactSamples) {
  // Exact mixture samples: each component's share is binomial(n, w_k) / n, SE sqrt(w (1 - w) / n).
  // ring8 components are 3.06 apart with std 0.5, so a sample is assigned to a neighbour with
  // probability ~2 P(z > 3.06) = 0.2% (symmetric, so the shares barely move). Tolerance 5 SE.
  GaussianMixture ring = GaussianMixture::ring8();
  const int64_t n = 4000;
  Generator gen(7);
  std::vector<double> w = mode_weights(ring.sample(n, gen), ring);
  ASSERT_EQ(w.size(), 8u);
  double total = 0;
  for (double v : w) {
    EXPECT_NEAR(v, 1.0 / 8, 5 * std::sqrt(1.0 / 8 * 7.0 / 8 / n));
    total += v;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  // All mass in one mode: samples of component 3 only.
  GaussianMixture one = ring;
  Tensor at3 = from_data({static_cast<float>(ring.means[3][0]), static_cast<float>(ring.means[3][1])},
                         {1, 2})
                   .expand({10, 2})
                   .contiguous();
  std::vector<double> w3 = mode_weights(at3, one);
  EXPECT_EQ(w3[3], 1.0);
}

TEST(Metrics, Errors) {
  test::expect_error([] { energy_distance(zeros({4, 2}), zeros({4, 3})); },
                     {"energy_distance", "[4, 2]", "[4, 3]"});
  test::expect_error([] { mmd_rbf(zeros({4, 2}), zeros({1, 2})); }, {"mmd_rbf", "at least 2", "[1, 2]"});
  test::expect_error([] { mmd_rbf(zeros({4, 2}), zeros({4, 2})); }, {"mmd_rbf", "median"});
  test::expect_error([] { energy_distance(zeros({4}), zeros({4, 1})); }, {"energy_distance", "[4]"});
}

}  // namespace
}  // namespace mindiff
