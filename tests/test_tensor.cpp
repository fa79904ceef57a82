// Tensor core: creation, shapes, copies in and out, broadcasting rules, the random generator.
#include <cmath>

#include "tensor/philox.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

TEST(Tensor, CreationAndAccess) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.strides(), Shape({3, 1}));
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(ones({4}).to_vector(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(full({2}, 2.5f).to_vector(), std::vector<float>(2, 2.5f));
  EXPECT_EQ(arange(4).to_vector(), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(arange(1.0f, 2.0f, 0.25f).to_vector(), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  Tensor d = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(d.at({1, 0}), 4.0f);
  EXPECT_EQ(scalar_tensor(3.0f).item(), 3.0f);
  EXPECT_EQ(scalar_tensor(3.0f).ndim(), 0);
  EXPECT_EQ(d.size(-1), 3);
}

TEST(Tensor, BadArgumentsAreNamed) {
  expect_error([] { from_data({1, 2, 3}, {2, 2}); }, {"from_data", "3 values", "[2, 2]"});
  expect_error([] { zeros({2, 2}).item(); }, {"item", "[2, 2]"});
  expect_error([] { zeros({2, 2}).at({2, 0}); }, {"at", "index 2", "[2, 2]"});
  expect_error([] { zeros({1, 1, 1, 1, 1}); }, {"rank 5"});
  expect_error([] { zeros({2}).size(1); }, {"size", "axis 1"});
}

TEST(Tensor, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}, "t"), Shape({2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {5}, "t"), Shape({5}));
  expect_error([] { broadcast_shapes({2, 3}, {3, 2}, "myop"); }, {"myop", "[2, 3]", "[3, 2]"});
}

TEST(Tensor, CopyBroadcastsAndHandlesOverlap) {
  Tensor dst = zeros({2, 3});
  dst.copy_(from_data({1, 2, 3}, {3}));
  EXPECT_EQ(dst.to_vector(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  // Copy a row onto the other row's overlapping storage through a transposed view of itself.
  Tensor sq = from_data({1, 2, 3, 4}, {2, 2});
  sq.copy_(sq.transpose(0, 1));
  EXPECT_EQ(sq.to_vector(), (std::vector<float>{1, 3, 2, 4}));
  expect_error([&] { dst.copy_(zeros({4})); }, {"copy_", "[4]", "[2, 3]"});
}

// Philox-4x32-10 known-answer vectors from the Random123 distribution's kat_vectors file:
// counter {0,0,0,0} key {0,0} -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8, and counter all ones,
// key all ones -> 408f276d 41c83b0e a20bc7c6 6d5451fd.
TEST(Random, PhiloxKnownAnswers) {
  Philox4 a = philox4x32_10(Philox4{{0, 0, 0, 0}}, 0);
  EXPECT_EQ(a.v[0], 0x6627e8d5u);
  EXPECT_EQ(a.v[1], 0xe169c58du);
  EXPECT_EQ(a.v[2], 0xbc57ac4cu);
  EXPECT_EQ(a.v[3], 0x9b00dbd8u);
  Philox4 b = philox4x32_10(Philox4{{~0u, ~0u, ~0u, ~0u}}, ~0ull);
  EXPECT_EQ(b.v[0], 0x408f276du);
  EXPECT_EQ(b.v[1], 0x41c83b0eu);
  EXPECT_EQ(b.v[2], 0xa20bc7c6u);
  EXPECT_EQ(b.v[3], 0x6d5451fdu);
}

TEST(Random, SameSeedSameNumbersWhateverTheSplit) {
  EXPECT_EQ(randn({1000}, 42).to_vector(), randn({1000}, 42).to_vector());
  EXPECT_NE(randn({1000}, 42).to_vector(), randn({1000}, 43).to_vector());
  // Two draws of 10 from one Generator equal one draw of 20 (normals take whole blocks of 2).
  Generator g(7);
  std::vector<float> first = randn({10}, g).to_vector(), second = randn({10}, g).to_vector();
  std::vector<float> both = randn({20}, 7).to_vector();
  first.insert(first.end(), second.begin(), second.end());
  EXPECT_EQ(first, both);
  // The generator advances: consecutive draws differ.
  EXPECT_NE(randn({10}, g).to_vector(), randn({10}, g).to_vector());
}

TEST(Random, MomentsOfNormalAndUniform) {
  // For n = 200k draws, the sample mean has standard deviation 1/sqrt(n) = 0.0022 (normal) and
  // the sample variance about sqrt(2/n) = 0.0032. Five standard deviations leave a chance of a
  // false failure near 1e-6 while catching any real bias in the transform.
  const int64_t n = 200000;
  const double kFiveSigmaMean = 5.0 / std::sqrt(static_cast<double>(n));
  const double kFiveSigmaVar = 5.0 * std::sqrt(2.0 / n);
  std::vector<float> z = randn({n}, 11).to_vector();
  double m = 0, v = 0;
  for (float x : z) m += x;
  m /= n;
  for (float x : z) v += (x - m) * (x - m);
  v /= n;
  EXPECT_NEAR(m, 0.0, kFiveSigmaMean);
  EXPECT_NEAR(v, 1.0, kFiveSigmaVar);
  // Uniform (0, 1]: mean 1/2, variance 1/12 (sd of the mean sqrt(1/12/n)).
  std::vector<float> u = rand({n}, 12).to_vector();
  double um = 0, mn = 1, mx = 0;
  for (float x : u) {
    um += x;
    mn = std::min<double>(mn, x);
    mx = std::max<double>(mx, x);
  }
  um /= n;
  EXPECT_NEAR(um, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
  EXPECT_GT(mn, 0.0);
  EXPECT_LE(mx, 1.0);
}

}  // namespace
}  // namespace mindiff
