// Elementwise unary and binary ops: hand-derived values, gradient checks (including broadcasting
// and non-contiguous inputs), and shape errors.
#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;
using test::param_transposed;

using UnaryFn = Tensor (*)(const Tensor&);

struct UnaryCase {
  const char* name;
  UnaryFn fn;
  float shift;  // moves inputs into the op's domain (log, sqrt need x > 0) or off a kink
};

class UnaryGrad : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryGrad, MatchesFiniteDifferences) {
  const UnaryCase& c = GetParam();
  // Domain-restricted ops get |x| + shift; all inputs are kept a little away from 0, where relu
  // and abs have their kink and the finite difference would straddle it.
  Tensor base = randn({3, 4}, 7);
  std::vector<float> v = base.to_vector();
  for (float& x : v) x = c.shift > 0 ? std::fabs(x) + c.shift : (x >= 0 ? x + 0.1f : x - 0.1f);
  Tensor x = from_data(v, {3, 4});
  x.requires_grad_();
  EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0]); }, {x})));
  // And through a non-contiguous view.
  Tensor xt = param_transposed({4, 3}, 8);
  if (c.shift > 0) {
    NoGradGuard ng;
    xt = (abs(xt.detach()) + c.shift).transpose(0, 1).contiguous().transpose(0, 1);
    xt.requires_grad_();
  }
  EXPECT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0]); }, {xt})));
}

INSTANTIATE_TEST_SUITE_P(
    Ops, UnaryGrad,
    ::testing::Values(UnaryCase{"neg", neg, 0}, UnaryCase{"exp", exp, 0},
                      UnaryCase{"log", log, 0.5f}, UnaryCase{"sqrt", sqrt, 0.5f},
                      UnaryCase{"square", square, 0}, UnaryCase{"tanh", tanh, 0},
                      UnaryCase{"sigmoid", sigmoid, 0}, UnaryCase{"silu", silu, 0},
                      UnaryCase{"relu", relu, 0}, UnaryCase{"gelu", gelu, 0},
                      UnaryCase{"abs", abs, 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Unary, HandDerivedValues) {
  Tensor x = from_data({-2.0f, 0.0f, 1.0f}, {3});
  // silu(x) = x / (1 + e^-x): silu(-2) = -2/(1+e^2) = -0.238406, silu(0) = 0, silu(1) = 0.731059
  test::expect_near_all(silu(x).to_vector(), {-0.238406f, 0.0f, 0.731059f}, 1e-6f);
  // gelu(x) = x Phi(x): gelu(-2) = -2 * 0.0227501 = -0.0455003, gelu(1) = 0.841345
  test::expect_near_all(gelu(x).to_vector(), {-0.0455003f, 0.0f, 0.841345f}, 1e-6f);
  // relu, and sigmoid(0) = 1/2
  test::expect_near_all(relu(x).to_vector(), {0.0f, 0.0f, 1.0f}, 0.0f);
  EXPECT_EQ(sigmoid(x).to_vector()[1], 0.5f);
}

TEST(Unary, SigmoidIsFiniteForHugeInputs) {
  // 1/(1+e^-x) evaluated naively overflows e^-x for x = -1e4; the stable form gives 0 and 1.
  std::vector<float> y = sigmoid(from_data({-1e4f, 1e4f}, {2})).to_vector();
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 1.0f);
}

TEST(Clamp, ValuesAndGradient) {
  test::expect_near_all(clamp(from_data({-3.0f, -0.5f, 0.25f, 2.0f}, {4}), -1.0f, 1.0f).to_vector(),
                        {-1.0f, -0.5f, 0.25f, 1.0f}, 0.0f);
  // Inputs kept at least 0.1 from the bounds, so the finite difference never straddles a kink:
  // inside elements get gradient 1, clipped ones 0.
  Tensor x = from_data({-2.0f, -0.7f, 0.1f, 0.6f, 1.5f, 3.0f}, {2, 3});
  x.requires_grad_();
  EXPECT_TRUE(grad_ok(gradcheck("relu", [](auto in) { return clamp(in[0], -0.9f, 0.9f); }, {x})));
  x.zero_grad();  // gradcheck left its own projected gradient there
  sum(clamp(x, -0.9f, 0.9f)).backward();
  test::expect_near_all(x.grad().to_vector(), {0, 1, 1, 1, 0, 0}, 0.0f);
  expect_error([] { clamp(zeros({1}), 1.0f, -1.0f); }, {"clamp", "above"});
}

// relu and clamp keep a NaN a NaN, as PyTorch does, and give it gradient 0: a NaN turned into
// 0 or a bound would look like a valid value downstream (a clipped denoiser estimate, say).
TEST(Clamp, NaNPropagates) {
  const float nan = std::nanf("");
  Tensor x = from_data({nan, -2.0f, 0.5f, nan}, {4});
  x.requires_grad_();
  const std::vector<float> r = relu(x).to_vector(), c = clamp(x, -1.0f, 1.0f).to_vector();
  EXPECT_TRUE(std::isnan(r[0]) && std::isnan(r[3])) << r[0] << " " << r[3];
  EXPECT_TRUE(std::isnan(c[0]) && std::isnan(c[3])) << c[0] << " " << c[3];
  EXPECT_EQ(r[1], 0.0f);
  EXPECT_EQ(c[1], -1.0f);
  EXPECT_EQ(c[2], 0.5f);
  sum(relu(x) + clamp(x, -1.0f, 1.0f)).backward();
  test::expect_near_all(x.grad().to_vector(), {0.0f, 0.0f, 2.0f, 0.0f}, 0.0f);
}

TEST(ScalarForms, ValuesAndGradients) {
  Tensor x = from_data({1.0f, 2.0f, 4.0f}, {3});
  test::expect_near_all((2.0f - x * 3.0f + 1.0f).to_vector(), {0.0f, -3.0f, -9.0f}, 0.0f);
  test::expect_near_all((8.0f / x).to_vector(), {8.0f, 4.0f, 2.0f}, 1e-6f);
  test::expect_near_all(pow(x, 1.5f).to_vector(), {1.0f, 2.828427f, 8.0f}, 1e-5f);
  Tensor p = from_data({0.5f, 1.5f, 2.5f}, {3});
  p.requires_grad_();
  EXPECT_TRUE(grad_ok(gradcheck("add_scalar", [](auto in) { return in[0] + 3.0f; }, {p})));
  EXPECT_TRUE(grad_ok(gradcheck("mul_scalar", [](auto in) { return in[0] * -2.5f; }, {p})));
  EXPECT_TRUE(grad_ok(gradcheck("pow_scalar", [](auto in) { return pow(in[0], 2.5f); }, {p})));
  EXPECT_TRUE(grad_ok(gradcheck("pow_scalar", [](auto in) { return 3.0f / in[0]; }, {p})));
}

struct BinaryCase {
  const char* name;
  Tensor (*fn)(const Tensor&, const Tensor&);
};

class BinaryGrad : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(BinaryGrad, SameShapeBroadcastAndStrided) {
  const BinaryCase& c = GetParam();
  auto f = [&](auto in) { return c.fn(in[0], in[1]); };
  // Keep divisors away from 0 so the quotient stays well-conditioned.
  auto away_from_zero = [](const Shape& s, uint64_t seed) {
    std::vector<float> v = randn(s, seed).to_vector();
    for (float& x : v) x = x >= 0 ? x + 0.5f : x - 0.5f;
    Tensor t = from_data(v, s);
    t.requires_grad_();
    return t;
  };
  EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {param({2, 3}, 1), away_from_zero({2, 3}, 2)})));
  // [2,3,4] with [3,1]: b is broadcast over a leading axis and along the last axis.
  EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {param({2, 3, 4}, 3), away_from_zero({3, 1}, 4)})));
  // [4,1] with [1,5]: both operands broadcast.
  EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {param({4, 1}, 5), away_from_zero({1, 5}, 6)})));
  // A non-contiguous left operand.
  EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {param_transposed({3, 4}, 7), away_from_zero({4}, 8)})));
  // Only one operand requires grad.
  Tensor fixed = randn({3}, 9);
  EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {param({2, 3}, 10), fixed})));
}

INSTANTIATE_TEST_SUITE_P(Ops, BinaryGrad,
                         ::testing::Values(BinaryCase{"add", add}, BinaryCase{"sub", sub},
                                           BinaryCase{"mul", mul}, BinaryCase{"div", div}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Binary, BroadcastValues) {
  // [2,1] + [3] -> [2,3]: row i, column j holds a_i + b_j.
  Tensor a = from_data({10.0f, 20.0f}, {2, 1});
  Tensor b = from_data({1.0f, 2.0f, 3.0f}, {3});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), Shape({2, 3}));
  test::expect_near_all(c.to_vector(), {11, 12, 13, 21, 22, 23}, 0.0f);
  test::expect_near_all((a * b).to_vector(), {10, 20, 30, 20, 40, 60}, 0.0f);
}

TEST(Binary, IncompatibleBroadcastNamesOpAndShapes) {
  expect_error([] { add(zeros({2, 3}), zeros({4, 3})); }, {"add", "[2, 3]", "[4, 3]"});
  expect_error([] { mul(zeros({2}), zeros({3})); }, {"mul", "[2]", "[3]"});
}

}  // namespace
}  // namespace mindiff
