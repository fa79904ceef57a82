// 2-D toy sets (data/toy2d.*): deterministic per seed, and each with the statistics its
// definition implies (component means and std of gmm8, checkerboard parity, ring radius,
// moons and roll means), checked on enough points that the tolerances are several standard errors.
#include <cmath>

#include "data/toy2d.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

constexpr int64_t kN = 40000;

struct Moments {
  double mean_x = 0, mean_y = 0;
};
Moments moments(const Tensor& t) {
  Moments m;
  const float* p = t.data();
  for (int64_t i = 0; i < t.size(0); ++i) m.mean_x += p[2 * i], m.mean_y += p[2 * i + 1];
  m.mean_x /= double(t.size(0));
  m.mean_y /= double(t.size(0));
  return m;
}

TEST(DataToy2d, DeterministicPerSeed) {
  for (const std::string& name : toy2d_names()) {
    Tensor a = toy2d(name, 100, 5), b = toy2d(name, 100, 5), c = toy2d(name, 100, 6);
    EXPECT_EQ(a.shape(), Shape({100, 2})) << name;
    EXPECT_EQ(a.to_vector(), b.to_vector()) << name;
    EXPECT_NE(a.to_vector(), c.to_vector()) << name;
    // Successive draws from one Generator differ (it advances).
    Generator g(5);
    Tensor first = toy2d(name, 100, g), second = toy2d(name, 100, g);
    EXPECT_EQ(first.to_vector(), a.to_vector()) << name;
    EXPECT_NE(first.to_vector(), second.to_vector()) << name;
  }
}

TEST(DataToy2d, Gmm8Statistics) {
  const GaussianMixture2D& mix = gmm8_mixture();
  ASSERT_EQ(mix.means.size(), 8u);
  // Mean k at angle k pi / 4 on the radius-4 circle: mean 1 is (2 sqrt 2, 2 sqrt 2), mean 2 is (0, 4).
  EXPECT_NEAR(mix.means[1][0], 2.0f * std::sqrt(2.0f), 1e-6f);
  EXPECT_NEAR(mix.means[2][1], 4.0f, 1e-6f);
  EXPECT_FLOAT_EQ(mix.std, 0.5f);
  float wsum = 0;
  for (float w : mix.weights) wsum += w;
  EXPECT_FLOAT_EQ(wsum, 1.0f);

  Dataset ds = toy2d_dataset("gmm8", kN, 11);
  ASSERT_EQ(int64_t(ds.labels.size()), kN);
  EXPECT_EQ(ds.num_classes, 8);
  // Per component: count ~ N/8 (binomial sd ~ 66), mean within 5 standard errors
  // (0.5 / sqrt(5000) ~ 0.0071), std ~ 0.5 within 5 of its standard errors (0.5 / sqrt(2 * 5000)).
  std::vector<double> cnt(8), sx(8), sy(8), sxx(8);
  const float* p = ds.images.data();
  for (int64_t i = 0; i < kN; ++i) {
    const int64_t k = ds.labels[size_t(i)];
    cnt[k] += 1, sx[k] += p[2 * i], sy[k] += p[2 * i + 1], sxx[k] += double(p[2 * i]) * p[2 * i];
  }
  for (int k = 0; k < 8; ++k) {
    EXPECT_NEAR(cnt[k], kN / 8.0, 400) << "component " << k;
    EXPECT_NEAR(sx[k] / cnt[k], mix.means[k][0], 0.035) << "component " << k;
    EXPECT_NEAR(sy[k] / cnt[k], mix.means[k][1], 0.035) << "component " << k;
    const double var = sxx[k] / cnt[k] - (sx[k] / cnt[k]) * (sx[k] / cnt[k]);
    EXPECT_NEAR(std::sqrt(var), 0.5, 0.025) << "component " << k;
  }
  // The points themselves equal toy2d()'s for the same seed.
  EXPECT_EQ(ds.images.to_vector(), toy2d("gmm8", kN, 11).to_vector());
}

TEST(DataToy2d, CheckerboardRingMoonsRoll) {
  // Checkerboard: inside [-2, 2]^2, on squares with floor(x) + floor(y) even; all 8 used.
  Tensor cb = toy2d("checkerboard", kN, 3);
  std::vector<int> per_square(16, 0);
  for (int64_t i = 0; i < kN; ++i) {
    const float x = cb.data()[2 * i], y = cb.data()[2 * i + 1];
    ASSERT_TRUE(x >= -2 && x < 2 && y >= -2 && y < 2) << x << ", " << y;
    const int fx = int(std::floor(x)), fy = int(std::floor(y));
    ASSERT_EQ(((fx + fy) % 2 + 2) % 2, 0) << x << ", " << y;
    ++per_square[(fx + 2) * 4 + fy + 2];
  }
  int used = 0;
  for (int c : per_square) used += c > 0;
  EXPECT_EQ(used, 8);
  // Ring: radius mean 2, radial std 0.1; angles uniform so the mean point is ~0.
  Tensor ring = toy2d("ring", kN, 4);
  double sr = 0, srr = 0;
  for (int64_t i = 0; i < kN; ++i) {
    const double r = std::hypot(ring.data()[2 * i], ring.data()[2 * i + 1]);
    sr += r, srr += r * r;
  }
  EXPECT_NEAR(sr / kN, 2.0, 0.003);
  EXPECT_NEAR(std::sqrt(srr / kN - (sr / kN) * (sr / kN)), 0.1, 0.005);
  // Means: ring, checkerboard and moons are centred by construction (see toy2d.h; the two
  // moons' means (0, 2/pi) and (1, 1/2 - 2/pi) average to the subtracted (1/2, 1/4)).
  for (const char* name : {"ring", "checkerboard", "moons"}) {
    Moments m = moments(toy2d(name, kN, 9));
    EXPECT_NEAR(m.mean_x, 0.0, 0.03) << name;
    EXPECT_NEAR(m.mean_y, 0.0, 0.03) << name;
  }
  // Swiss roll: radius |p| = t / 5 (before noise) within [1.5 pi, 4.5 pi] / 5 = [0.94, 2.83].
  Tensor roll = toy2d("swissroll", kN, 5);
  for (int64_t i = 0; i < kN; ++i) {
    const double r = std::hypot(roll.data()[2 * i], roll.data()[2 * i + 1]);
    ASSERT_TRUE(r > 0.94 - 0.6 && r < 2.83 + 0.6) << r;  // 0.6 = 6 noise stds (of 0.1 each)
  }
}

TEST(DataToy2d, Errors) {
  expect_error([] { toy2d("spiral", 10, 0); },
               {"unknown data set 'spiral'", "gmm8", "checkerboard", "moons",
                "swissroll", "ring"});
  expect_error([] { toy2d("ring", 0, 0); }, {"must be positive"});
}

}  // namespace
}  // namespace mindiff
