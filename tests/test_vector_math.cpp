// The branch-free exp, sigmoid and SiLU of tensor/ops/vector_math.h against double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tensor/ops/vector_math.h"

namespace mindiff {
namespace {

// Error in units of the float spacing at the exact value.
double ulp_error(float got, double exact) {
  const float rounded = static_cast<float>(exact);
  const double ulp = std::nextafter(rounded, std::numeric_limits<float>::infinity()) - rounded;
  return std::fabs(got - exact) / ulp;
}

// exp_vec: degree-7 Taylor remainder < 5e-9 relative, plus rounding in Cody-Waite and ~8 Horner
// steps; 2 ulp bounds that with margin (measured worst: 0.86 ulp). A wrong coefficient or a
// range reduction off by one ln 2 gives errors of thousands of ulp.
constexpr double kExpMaxUlp = 2.0;
// sigmoid and silu add a division and an addition on top of exp: 4 ulp.
constexpr double kSigmoidMaxUlp = 4.0;
// silu' = s (1 + x (1 - s)) cancels where 1 + x (1 - s) ~ 0 (x near -1.28), so compare absolutely
// there; 1e-6 is ~10 float ulps of values of order 0.1-1.
constexpr double kSiluGradAbs = 1e-6;

TEST(VectorMath, ExpWithinTwoUlpOverTheRange) {
  double worst = 0.0;
  for (float x = -87.0f; x < 88.7f; x += 0.0173f) worst = std::max(worst, ulp_error(exp_vec(x), std::exp(double(x))));
  EXPECT_LE(worst, kExpMaxUlp);
  EXPECT_EQ(exp_vec(0.0f), 1.0f);  // n = 0, r = 0: the polynomial's constant term exactly
}

TEST(VectorMath, ExpAtTheEndsOfTheFloatRange) {
  // Up to ln(FLT_MAX) the exact value (2^128 reached through 2^127 * 2); beyond, +inf like expf;
  // below ln(FLT_MIN), 0 instead of a denormal (documented in vector_math.h).
  EXPECT_LE(ulp_error(exp_vec(88.7f), std::exp(double(88.7f))), kExpMaxUlp);
  EXPECT_LE(ulp_error(exp_vec(-87.3f), std::exp(double(-87.3f))), kExpMaxUlp);
  EXPECT_EQ(exp_vec(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(exp_vec(1000.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(exp_vec(-88.0f), 0.0f);
  EXPECT_EQ(exp_vec(-1000.0f), 0.0f);
}

TEST(VectorMath, NanGivesNan) {
  // A diverged network's activations: NaN must come out as NaN (the training loop's check sees
  // it), and no step on the way may be undefined behaviour (the sanitized suite runs this).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(exp_vec(nan)));
  EXPECT_TRUE(std::isnan(exp_vec(-nan)));
  EXPECT_TRUE(std::isnan(sigmoid_vec(nan)));
  EXPECT_TRUE(std::isnan(silu_vec(nan)));
  EXPECT_TRUE(std::isnan(silu_grad_vec(nan)));
}

TEST(VectorMath, SigmoidSiluAndDerivative) {
  double worst_sigmoid = 0.0, worst_silu = 0.0, worst_grad = 0.0;
  for (float x = -30.0f; x < 30.0f; x += 0.00731f) {
    const double xd = x, s = 1.0 / (1.0 + std::exp(-xd));
    worst_sigmoid = std::max(worst_sigmoid, ulp_error(sigmoid_vec(x), s));
    if (std::fabs(x) > 1e-3f) worst_silu = std::max(worst_silu, ulp_error(silu_vec(x), xd * s));
    worst_grad = std::max(worst_grad, std::fabs(silu_grad_vec(x) - s * (1.0 + xd * (1.0 - s))));
  }
  EXPECT_LE(worst_sigmoid, kSigmoidMaxUlp);
  EXPECT_LE(worst_silu, kSigmoidMaxUlp);
  EXPECT_LE(worst_grad, kSiluGradAbs);
  // Far tails: sigmoid -> 0 and 1, silu -> 0 and x, silu' -> 0 and 1.
  EXPECT_EQ(sigmoid_vec(100.0f), 1.0f);
  EXPECT_EQ(sigmoid_vec(-100.0f), 0.0f);  // e^100 = inf: exactly 0, as the stable form gives
  EXPECT_EQ(silu_vec(100.0f), 100.0f);
  EXPECT_LE(std::fabs(silu_vec(-100.0f)), 1e-35f);
  EXPECT_EQ(silu_grad_vec(100.0f), 1.0f);
}

}  // namespace
}  // namespace mindiff
