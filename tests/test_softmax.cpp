// softmax and log_softmax: gradient checks along every axis (including non-contiguous inputs
// and a broadcast dout), hand-derived values, stability for huge inputs, rows summing to 1, the
// threaded path against a double-precision reference, and errors.
#include <omp.h>

#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::expect_near_all;
using test::grad_ok;
using test::param;
using test::param_transposed;

using SoftmaxFn = Tensor (*)(const Tensor&, int);

struct SoftmaxCase {
  const char* name;
  SoftmaxFn fn;
};

class SoftmaxGrad : public ::testing::TestWithParam<SoftmaxCase> {};

TEST_P(SoftmaxGrad, EveryAxisAndStridedInputs) {
  const SoftmaxCase& c = GetParam();
  Tensor x = param({2, 3, 4}, 21);
  for (int axis : {0, 1, 2, -1, -2})
    EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0], axis); }, {x})))
        << "axis " << axis;
  // Transposed [4, 3] view: along the last axis the stride is 4; along axis 0 it is 1.
  Tensor xt = param_transposed({4, 3}, 22);
  for (int axis : {0, 1})
    EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0], axis); }, {xt})))
        << "transposed, axis " << axis;
  // A permuted rank-4 view, softmax over an inner axis (as over channels of NCHW).
  Tensor xp;
  {
    NoGradGuard ng;
    xp = randn({2, 3, 2, 3}, 23).permute({0, 3, 1, 2});  // [2, 3, 3, 2]
  }
  xp.requires_grad_();
  ASSERT_FALSE(xp.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck(c.name, [&](auto in) { return c.fn(in[0], 1); }, {xp})));
  // Composed with a reduction, so dout arrives broadcast (stride 0) along the axis.
  EXPECT_TRUE(grad_ok(gradcheck(
      c.name, [&](auto in) { return sum(square(c.fn(in[0], 0)), {1}); }, {param({3, 4}, 24)})));
}

INSTANTIATE_TEST_SUITE_P(Ops, SoftmaxGrad,
                         ::testing::Values(SoftmaxCase{"softmax", softmax},
                                           SoftmaxCase{"log_softmax", log_softmax}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Softmax, HandDerivedValues) {
  // exp of {0, ln 2, ln 3} is {1, 2, 3}, total 6: softmax = {1/6, 2/6, 3/6},
  // log_softmax = {ln 1, ln 2, ln 3} - ln 6.
  const float l2 = std::log(2.0f), l3 = std::log(3.0f), l6 = std::log(6.0f);
  Tensor x = from_data({0.0f, l2, l3}, {3});
  expect_near_all(softmax(x).to_vector(), {1.0f / 6, 2.0f / 6, 3.0f / 6}, 1e-7f);
  expect_near_all(log_softmax(x).to_vector(), {-l6, l2 - l6, l3 - l6}, 1e-6f);
  // Along axis 0 of [[0, 0], [ln 3, 0]]: column 0 is {1/4, 3/4}, column 1 is {1/2, 1/2}.
  Tensor y = from_data({0.0f, 0.0f, l3, 0.0f}, {2, 2});
  expect_near_all(softmax(y, 0).to_vector(), {0.25f, 0.5f, 0.75f, 0.5f}, 1e-7f);
}

TEST(Softmax, HugeInputsAreStable) {
  // Shifting a row by a constant leaves softmax unchanged; exp(10002) alone would overflow.
  Tensor big = from_data({10000.0f, 10001.0f, 10002.0f}, {3});
  Tensor small = from_data({0.0f, 1.0f, 2.0f}, {3});
  expect_near_all(softmax(big).to_vector(), softmax(small).to_vector(), 1e-7f);
  expect_near_all(log_softmax(big).to_vector(), log_softmax(small).to_vector(), 1e-6f);
  // Opposite extremes: softmax {1, 0}, log_softmax {0, -2e4}, all finite; the gradient too.
  Tensor e = from_data({1e4f, -1e4f}, {2});
  e.requires_grad_();
  expect_near_all(softmax(e).to_vector(), {1.0f, 0.0f}, 0.0f);
  Tensor ls = log_softmax(e);
  expect_near_all(ls.to_vector(), {0.0f, -2e4f}, 0.0f);
  sum(ls).backward();
  // dx = dout - softmax * sum(dout) = {1, 1} - {1, 0} * 2 = {-1, 1}
  expect_near_all(e.grad().to_vector(), {-1.0f, 1.0f}, 0.0f);
}

TEST(Softmax, RowsSumToOneAlongAnyAxis) {
  Tensor x = randn({3, 4, 5}, 31) * 10.0f;
  for (int axis : {0, 1, 2}) {
    Tensor s = sum(softmax(x, axis), {axis});
    for (float v : s.to_vector()) EXPECT_NEAR(v, 1.0f, 1e-6f) << "axis " << axis;
    Tensor ls = sum(exp(log_softmax(x, axis)), {axis});
    for (float v : ls.to_vector()) EXPECT_NEAR(v, 1.0f, 1e-5f) << "axis " << axis;
  }
}

// A [32, 64, 24] input takes the threaded path along each axis. Checked against softmax
// computed in double from the same floats, for a contiguous and a transposed input, and bitwise
// identical for one and two threads.
TEST(Softmax, ThreadedPathMatchesReferenceAndIsDeterministic) {
  const Shape shape{32, 64, 24};
  Tensor x = randn(shape, 41) * 3.0f;
  std::vector<float> xv = x.to_vector();
  for (int axis : {0, 1, 2}) {
    std::vector<float> y = softmax(x, axis).to_vector(), ly = log_softmax(x, axis).to_vector();
    // Element index i = (a * 64 + b) * 24 + c; the row through i varies index `axis`.
    const int64_t stride = axis == 0 ? 64 * 24 : axis == 1 ? 24 : 1, len = shape[axis];
    double worst = 0.0, worst_log = 0.0;
    for (int64_t i = 0; i < shape.numel(); ++i) {
      const int64_t start = i - ((i / stride) % len) * stride;
      double m = -1e30, s = 0.0;
      for (int64_t j = 0; j < len; ++j) m = std::max(m, static_cast<double>(xv[start + j * stride]));
      for (int64_t j = 0; j < len; ++j) s += std::exp(xv[start + j * stride] - m);
      const double ref_log = xv[i] - m - std::log(s);
      worst = std::max(worst, std::fabs(y[i] - std::exp(ref_log)));
      worst_log = std::max(worst_log, std::fabs(ly[i] - ref_log));
    }
    EXPECT_LT(worst, 1e-6) << "axis " << axis;
    EXPECT_LT(worst_log, 1e-5) << "axis " << axis;
  }
  // Transposed input: softmax along axis 0 of x^T (last two axes swapped) equals softmax of x
  // along axis 0, transposed.
  Tensor a = softmax(x.transpose(1, 2), 0), b = softmax(x, 0).transpose(1, 2);
  EXPECT_EQ(a.to_vector(), b.to_vector());

  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> y1 = softmax(x, 1).to_vector();
  omp_set_num_threads(2);
  std::vector<float> y2 = softmax(x, 1).to_vector();
  omp_set_num_threads(threads);
  EXPECT_EQ(y1, y2);
}

TEST(Softmax, BadAxisNamesTheOpAndTheAxis) {
  expect_error([] { softmax(zeros({2, 3}), 2); }, {"softmax", "axis 2", "rank 2"});
  expect_error([] { log_softmax(zeros({2, 3}), -3); }, {"log_softmax", "axis -3", "rank 2"});
}

}  // namespace
}  // namespace mindiff
