// Reductions (sum, mean, max, var): gradient checks over every axis pattern (all, one, several,
// negative, keepdim on and off, non-contiguous inputs), hand-derived values, numerical
// soundness, the parallel path against a double-precision reference, and errors.
#include <omp.h>

#include <cmath>
#include <limits>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::expect_near_all;
using test::grad_ok;
using test::param;
using test::param_transposed;

struct AxesCase {
  std::vector<int> axes;
  bool keepdim;
};

// The axis patterns every reduction is checked with, on a [2, 3, 4] input.
const std::vector<AxesCase> kAxesCases = {
    {{}, false},     {{}, true},      // all axes
    {{1}, false},    {{1}, true},     // one axis
    {{0, 2}, false}, {{2, 0}, true},  // several axes, in any order
    {{-1}, false},   {{-3, -2}, true},  // negative axes
};

// A leaf of `shape` whose values are 0.1 apart and shuffled (i -> 7i mod n, a permutation when
// n is not a multiple of 7): no ties anywhere, and each maximum beats the runner-up by far more
// than the gradcheck step, so max stays differentiable under the perturbation.
Tensor distinct_leaf(const Shape& shape) {
  const int64_t n = shape.numel();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1f * static_cast<float>((i * 7) % n) - 1.0f;
  return from_data(v, shape);
}

using ReduceFn = Tensor (*)(const Tensor&, const std::vector<int>&, bool);

struct ReduceCase {
  const char* name;
  ReduceFn fn;
};

Tensor var_population(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  return var(x, axes, keepdim, 0);
}
Tensor var_unbiased(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  return var(x, axes, keepdim, 1);
}

class ReduceGrad : public ::testing::TestWithParam<ReduceCase> {};

TEST_P(ReduceGrad, AllAxisPatternsAndStridedInputs) {
  const ReduceCase& c = GetParam();
  Tensor x = distinct_leaf({2, 3, 4});
  x.requires_grad_();
  for (const AxesCase& ac : kAxesCases) {
    auto f = [&](auto in) { return c.fn(in[0], ac.axes, ac.keepdim); };
    EXPECT_TRUE(grad_ok(gradcheck(c.name, f, {x}))) << "axes case with keepdim " << ac.keepdim;
  }
  // Non-contiguous: a transposed [4, 3] view (last-axis stride 4) and a permuted rank-3 view.
  Tensor xt, xp;
  {
    NoGradGuard ng;
    xt = distinct_leaf({3, 4}).transpose(0, 1);
    xp = distinct_leaf({4, 2, 3}).permute({1, 2, 0});  // [2, 3, 4], strides [3, 1, 6]
  }
  xt.requires_grad_();
  xp.requires_grad_();
  ASSERT_FALSE(xt.is_contiguous());
  ASSERT_FALSE(xp.is_contiguous());
  for (const std::vector<int>& axes : {std::vector<int>{}, {0}, {-1}})
    EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0], axes, false); }, {xt})));
  for (const AxesCase& ac : kAxesCases)
    EXPECT_TRUE(
        grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0], ac.axes, ac.keepdim); }, {xp})));
}

INSTANTIATE_TEST_SUITE_P(Ops, ReduceGrad,
                         ::testing::Values(ReduceCase{"sum", sum}, ReduceCase{"mean", mean},
                                           ReduceCase{"max", max},
                                           ReduceCase{"var", var_population},
                                           ReduceCase{"var", var_unbiased}),
                         [](const auto& info) {
                           return std::string(info.param.name) + std::to_string(info.index);
                         });

TEST(Reduce, GradientThroughAComposition) {
  // var and mean on Gaussian inputs, feeding further ops (the gradient flows through both).
  Tensor x = param({3, 5}, 11);
  EXPECT_TRUE(grad_ok(gradcheck(
      "var", [](auto in) { return var(in[0], {1}, true, 1) * mean(in[0], {0}, true); }, {x})));
}

TEST(Reduce, HandDerivedValues) {
  Tensor x = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  // Columns: 1+4, 2+5, 3+6; rows: 1+2+3, 4+5+6; all: 21.
  expect_near_all(sum(x, {0}).to_vector(), {5, 7, 9}, 0.0f);
  expect_near_all(sum(x, {1}).to_vector(), {6, 15}, 0.0f);
  EXPECT_EQ(sum(x).item(), 21.0f);
  EXPECT_EQ(sum(x).shape(), Shape({}));
  EXPECT_EQ(sum(x, {0}, true).shape(), Shape({1, 3}));
  // Row means 6/3, 15/3; overall 21/6.
  expect_near_all(mean(x, {-1}).to_vector(), {2, 5}, 0.0f);
  EXPECT_FLOAT_EQ(mean(x).item(), 3.5f);
  EXPECT_EQ(mean(x, {1}, true).shape(), Shape({2, 1}));
  Tensor y = from_data({1, 5, 3, -2, -7, -1}, {2, 3});
  expect_near_all(max(y, {1}).to_vector(), {5, -1}, 0.0f);
  expect_near_all(max(y, {0}).to_vector(), {1, 5, 3}, 0.0f);
  EXPECT_EQ(max(y).item(), 5.0f);
  // var{1,2,3,4}: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, so 5/4 = 1.25
  // (population) and 5/3 (unbiased).
  Tensor v = from_data({1, 2, 3, 4}, {4});
  EXPECT_FLOAT_EQ(var(v).item(), 1.25f);
  EXPECT_FLOAT_EQ(var(v, {}, false, 1).item(), 5.0f / 3.0f);
  // Per row of [[1,2,3],[4,5,6]]: deviations -1, 0, 1 -> 2/3 each.
  expect_near_all(var(x, {1}).to_vector(), {2.0f / 3.0f, 2.0f / 3.0f}, 1e-7f);
}

TEST(Reduce, VarIsSoundWithALargeOffset) {
  // 1e6 + {1,2,3,4} are exact in float32. E[x^2] - E[x]^2 in float would lose everything
  // (E[x^2] ~ 1e12 has a float spacing of ~6e4); the two-pass form gives 1.25 exactly.
  Tensor v = from_data({1000001.0f, 1000002.0f, 1000003.0f, 1000004.0f}, {4});
  EXPECT_FLOAT_EQ(var(v).item(), 1.25f);
  EXPECT_FLOAT_EQ(var(v, {0}, false, 1).item(), 5.0f / 3.0f);
  // A single element with correction 1 divides 0 by 0, as in numpy: NaN.
  EXPECT_TRUE(std::isnan(var(from_data({3.0f}, {1}), {}, false, 1).item()));
}

TEST(Reduce, MaxTiesShareTheGradient) {
  // Two maxima of 3: each gets dout / 2; the others get nothing.
  Tensor x = from_data({1, 3, 3, 2}, {4});
  x.requires_grad_();
  max(x).backward();
  expect_near_all(x.grad().to_vector(), {0, 0.5f, 0.5f, 0}, 0.0f);
  // Row 0 is a three-way tie (1/3 each), row 1 has one maximum; dout = {3, 2}.
  Tensor y = from_data({5, 5, 5, 1, 2, 0}, {2, 3});
  y.requires_grad_();
  max(y, {1}).backward(from_data({3, 2}, {2}));
  expect_near_all(y.grad().to_vector(), {1, 1, 1, 0, 2, 0}, 1e-7f);
}

TEST(Reduce, MaxPropagatesNaNAndRejectsEmptyAxes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> m = max(from_data({1, nan, 3, 4, 5, 6}, {2, 3}), {1}).to_vector();
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_EQ(m[1], 6.0f);
  expect_error([] { max(zeros({0, 3}), {0}); }, {"max", "[0, 3]", "empty"});
  EXPECT_EQ(max(zeros({0, 3}), {1}).shape(), Shape({0}));  // nothing to reduce, nothing to fill
}

TEST(Reduce, BadAxesNameTheOpAndTheAxis) {
  Tensor x = zeros({2, 3});
  expect_error([&] { sum(x, {2}); }, {"sum", "axis 2", "rank 2"});
  expect_error([&] { mean(x, {-3}); }, {"mean", "axis -3", "rank 2"});
  expect_error([&] { max(x, {0, 5}); }, {"max", "axis 5"});
  expect_error([&] { var(x, {7}); }, {"var", "axis 7"});
  expect_error([&] { var(x, {1, -1}); }, {"var", "axis -1", "twice"});
  expect_error([&] { var(x, {}, false, -1); }, {"var", "correction", "-1"});
}

// Large enough to take the threaded path; checked against double sums of the same floats, and
// bitwise identical for one and two threads (each output is accumulated by one thread in a fixed
// order).
TEST(Reduce, ThreadedPathMatchesReferenceAndIsDeterministic) {
  const int64_t rows = 64, cols = 1536;
  Tensor x = randn({rows, cols}, 5);
  std::vector<float> xv = x.to_vector();
  std::vector<double> row_sum(rows, 0.0), col_max(cols, -1e30), row_var(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      row_sum[r] += xv[r * cols + c];
      col_max[c] = std::max(col_max[c], static_cast<double>(xv[r * cols + c]));
    }
  for (int64_t r = 0; r < rows; ++r) {
    const double m = row_sum[r] / cols;
    for (int64_t c = 0; c < cols; ++c) row_var[r] += (xv[r * cols + c] - m) * (xv[r * cols + c] - m);
    row_var[r] /= cols - 1;
  }
  std::vector<float> s = sum(x, {1}).to_vector(), mu = mean(x, {1}).to_vector(),
                     mx = max(x, {0}).to_vector(), vr = var(x, {1}, false, 1).to_vector();
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_NEAR(s[r], row_sum[r], 1e-4 * (1 + std::fabs(row_sum[r])));
    EXPECT_NEAR(mu[r], row_sum[r] / cols, 1e-6);
    EXPECT_NEAR(vr[r], row_var[r], 1e-6 * row_var[r]);
  }
  for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(mx[c], static_cast<float>(col_max[c]));
  // Strided (transposed) input on the threaded path: column sums of x are row sums of x^T.
  std::vector<float> st = sum(x.transpose(0, 1), {0}).to_vector();
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(st[r], s[r]);

  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> s1 = sum(x, {0}).to_vector(), v1 = var(x, {0}).to_vector();
  omp_set_num_threads(2);
  std::vector<float> s2 = sum(x, {0}).to_vector(), v2 = var(x, {0}).to_vector();
  omp_set_num_threads(threads);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(v1, v2);
}

}  // namespace
}  // namespace mindiff
