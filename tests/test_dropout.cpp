// dropout: determinism from the generator state, statistics of the mask on 100k elements,
// identity outside training, gradient check, and argument errors.
#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;

// Statistical checks allow this many binomial standard deviations: a correct mask fails one
// with probability below 1e-6, while a wrong keep probability (say p instead of 1 - p) is off by
// hundreds of standard deviations at n = 100k.
constexpr double kSigmas = 5.0;

TEST(Dropout, SameSeedSameMask) {
  Tensor x = randn({8, 16}, 1);
  Generator g1(42), g2(42), g3(43);
  std::vector<float> a = dropout(x, 0.5f, g1).to_vector();
  EXPECT_EQ(a, dropout(x, 0.5f, g2).to_vector());
  EXPECT_NE(a, dropout(x, 0.5f, g3).to_vector());
  // The generator advanced: the next draw from g1 is a different mask (but the same for g2).
  std::vector<float> b = dropout(x, 0.5f, g1).to_vector();
  EXPECT_NE(a, b);
  EXPECT_EQ(b, dropout(x, 0.5f, g2).to_vector());
}

TEST(Dropout, MaskIsUniformDrawAbovePByPosition) {
  // y_i = x_i / (1 - p) where the i-th uniform of rand(shape, Generator(seed)) exceeds p, else 0;
  // also for a transposed x, whose element (i, j) in logical order meets draw i * 3 + j.
  const float p = 0.25f;
  Tensor xt = randn({3, 4}, 2).transpose(0, 1);  // [4, 3], not contiguous
  Generator g(7);
  std::vector<float> y = dropout(xt, p, g).to_vector();
  std::vector<float> u = rand({4, 3}, 7).to_vector(), xv = xt.to_vector();
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_EQ(y[i], u[i] > p ? xv[i] * (1.0f / (1.0f - p)) : 0.0f) << "element " << i;
  // And the generator moved exactly as rand() moves it.
  Generator r(7);
  rand({4, 3}, r);
  EXPECT_EQ(g.offset, r.offset);
}

TEST(Dropout, KeptFractionAndMeanOn100k) {
  const int64_t n = 100000;
  for (float p : {0.1f, 0.3f, 0.7f}) {
    Generator g(1000 + static_cast<uint64_t>(p * 10));
    std::vector<float> y = dropout(ones({n}), p, g).to_vector();
    const float scale = 1.0f / (1.0f - p);
    int64_t kept = 0;
    double total = 0;
    for (float v : y) {
      ASSERT_TRUE(v == 0.0f || v == scale) << "value " << v;
      kept += v != 0.0f;
      total += v;
    }
    // kept ~ Binomial(n, 1 - p): fraction sd sqrt(p (1 - p) / n).
    const double frac_sd = std::sqrt(p * (1.0 - p) / n);
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, kSigmas * frac_sd) << "p = " << p;
    // mean(y) = fraction / (1 - p) has expectation 1 and sd frac_sd / (1 - p).
    EXPECT_NEAR(total / n, 1.0, kSigmas * frac_sd / (1.0 - p)) << "p = " << p;
  }
}

TEST(Dropout, IdentityOutsideTrainingOrForPZero) {
  Tensor x = randn({4, 5}, 3);
  Generator g(5);
  EXPECT_TRUE(dropout(x, 0.5f, g, /*training=*/false).same_as(x));
  EXPECT_TRUE(dropout(x, 0.0f, g).same_as(x));
  EXPECT_EQ(g.offset, 0u);  // nothing was drawn
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  // With x = 1 and dout = 1, dx_i = keep_i / (1 - p) = y_i.
  Tensor x = ones({6, 7});
  x.requires_grad_();
  Generator g(11);
  Tensor y = dropout(x, 0.4f, g);
  y.backward(ones({6, 7}));
  EXPECT_EQ(x.grad().to_vector(), y.to_vector());
}

TEST(Dropout, Gradient) {
  // A fresh Generator with one seed inside f, so every evaluation uses the same mask.
  auto f = [](const std::vector<Tensor>& in) {
    Generator g(21);
    return dropout(in[0], 0.4f, g);
  };
  EXPECT_TRUE(grad_ok(gradcheck("dropout", f, {param({3, 5}, 4)})));
  EXPECT_TRUE(grad_ok(gradcheck("dropout", f, {test::param_transposed({2, 3, 4}, 5)})));
}

TEST(Dropout, Errors) {
  Generator g(0);
  expect_error([&] { dropout(zeros({2, 3}), 1.0f, g); }, {"dropout", "[0, 1)", "got 1", "[2, 3]"});
  expect_error([&] { dropout(zeros({2, 3}), -0.1f, g); }, {"dropout", "[0, 1)", "-0.1"});
}

}  // namespace
}  // namespace mindiff
