// Losses: gradient checks (both mse_loss inputs, strided inputs), hand-derived values, extreme
// logits, the threaded path against a double-precision reference, and errors.
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

TEST(MseLoss, GradcheckBothInputsAndStrided) {
  auto f = [](auto in) { return mse_loss(in[0], in[1]); };
  EXPECT_TRUE(grad_ok(gradcheck("mse_loss", f, {param({3, 4}, 1), param({3, 4}, 2)})));
  EXPECT_TRUE(grad_ok(gradcheck("mse_loss", f, {param({2, 1, 3, 2}, 3), param({2, 1, 3, 2}, 4)})));
  EXPECT_TRUE(
      grad_ok(gradcheck("mse_loss", f, {param_transposed({4, 3}, 5), param_transposed({4, 3}, 6)})));
  // Only one input requires grad; and the loss scaled after the fact (dout != 1).
  EXPECT_TRUE(grad_ok(gradcheck("mse_loss", f, {param({5}, 7), randn({5}, 8)})));
  EXPECT_TRUE(grad_ok(gradcheck("mse_loss", [](auto in) { return mse_loss(in[0], in[1]) * 3.0f; },
                                {randn({5}, 9), param({5}, 10)})));
}

TEST(MseLoss, HandDerivedValuesAndGradients) {
  // Differences {0, 2, 3}: L = (0 + 4 + 9) / 3 = 13/3; dpred = 2 d / 3 = {0, 4/3, 2}.
  Tensor p = from_data({1, 2, 3}, {3}), t = from_data({1, 0, 0}, {3});
  p.requires_grad_();
  t.requires_grad_();
  Tensor l = mse_loss(p, t);
  EXPECT_EQ(l.shape(), Shape({}));
  EXPECT_FLOAT_EQ(l.item(), 13.0f / 3.0f);
  l.backward();
  expect_near_all(p.grad().to_vector(), {0, 4.0f / 3.0f, 2}, 1e-6f);
  expect_near_all(t.grad().to_vector(), {0, -4.0f / 3.0f, -2}, 1e-6f);
}

TEST(MseLoss, ThreadedPathMatchesReference) {
  Tensor p = randn({300, 200}, 11), t = randn({300, 200}, 12);
  std::vector<float> pv = p.to_vector(), tv = t.to_vector();
  double ref = 0.0;
  for (size_t i = 0; i < pv.size(); ++i) ref += (double(pv[i]) - tv[i]) * (double(pv[i]) - tv[i]);
  ref /= static_cast<double>(pv.size());
  EXPECT_NEAR(mse_loss(p, t).item(), ref, 1e-6 * ref);
  // A transposed pred against the matching contiguous target.
  EXPECT_EQ(mse_loss(p.transpose(0, 1), t.transpose(0, 1).contiguous()).item(),
            mse_loss(p, t).item());
  // Fixed chunks added in order: bitwise the same for one and two threads.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const float one = mse_loss(p, t).item();
  omp_set_num_threads(2);
  const float two = mse_loss(p, t).item();
  omp_set_num_threads(threads);
  EXPECT_EQ(one, two);
}

TEST(MseLoss, ShapesMustMatchExactly) {
  expect_error([] { mse_loss(zeros({2, 3}), zeros({3, 2})); }, {"mse_loss", "[2, 3]", "[3, 2]"});
  // Broadcastable is not enough: a silently broadcast target is a classic bug.
  expect_error([] { mse_loss(zeros({2, 3}), zeros({3})); }, {"mse_loss", "[2, 3]", "[3]"});
  expect_error([] { mse_loss(zeros({0, 3}), zeros({0, 3})); }, {"mse_loss", "empty", "[0, 3]"});
}

TEST(CrossEntropy, Gradcheck) {
  const std::vector<int64_t> targets{0, 3, 4, 1};
  auto f = [&](auto in) { return cross_entropy(in[0], targets); };
  EXPECT_TRUE(grad_ok(gradcheck("cross_entropy", f, {param({4, 5}, 21)})));
  // Non-contiguous logits (class stride 4) and a scaled loss (dout != 1).
  Tensor xt = param_transposed({4, 5}, 22);
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("cross_entropy", f, {xt})));
  EXPECT_TRUE(grad_ok(gradcheck(
      "cross_entropy", [&](auto in) { return cross_entropy(in[0] * 2.0f, targets) * -1.5f; },
      {param({4, 5}, 23)})));
}

TEST(CrossEntropy, HandDerivedValues) {
  // Uniform logits: every class has probability 1/K, so the loss is log K for any targets.
  EXPECT_FLOAT_EQ(cross_entropy(zeros({2, 4}), {0, 3}).item(), std::log(4.0f));
  EXPECT_FLOAT_EQ(cross_entropy(full({3, 7}, 5.0f), {6, 0, 2}).item(), std::log(7.0f));
  // Logits {0, ln 2, ln 3}: softmax {1/6, 2/6, 3/6}, so -log p is ln 2 for class 2 and ln 6 for
  // class 0; a batch of both averages them: (ln 2 + ln 6) / 2.
  const float l2 = std::log(2.0f), l3 = std::log(3.0f), l6 = std::log(6.0f);
  Tensor x = from_data({0, l2, l3, 0, l2, l3}, {2, 3});
  EXPECT_NEAR(cross_entropy(x.slice(0, 0, 1), {2}).item(), l2, 1e-6f);
  EXPECT_NEAR(cross_entropy(x.slice(0, 0, 1), {0}).item(), l6, 1e-6f);
  x.requires_grad_();
  Tensor l = cross_entropy(x, {2, 0});
  EXPECT_NEAR(l.item(), (l2 + l6) / 2, 1e-6f);
  // dlogits = (softmax - onehot) / B with B = 2.
  l.backward();
  expect_near_all(x.grad().to_vector(),
                  {1.0f / 12, 2.0f / 12, (3.0f / 6 - 1) / 2, (1.0f / 6 - 1) / 2, 2.0f / 12, 3.0f / 12},
                  1e-6f);
}

TEST(CrossEntropy, ExtremeLogitsStayFinite) {
  // {1e4, -1e4}: softmax is {1, e^-2e4} = {1, 0} in float. Right target: loss 0, gradient 0.
  // Wrong target: loss 1e4 - (-1e4) = 2e4, gradient (softmax - onehot) = {1, -1}.
  Tensor x = from_data({1e4f, -1e4f, 1e4f, -1e4f}, {2, 2});
  x.requires_grad_();
  EXPECT_EQ(cross_entropy(x.detach().slice(0, 0, 1), {0}).item(), 0.0f);
  EXPECT_EQ(cross_entropy(x.detach().slice(0, 0, 1), {1}).item(), 2e4f);
  Tensor l = cross_entropy(x, {0, 1});  // mean of 0 and 2e4
  EXPECT_EQ(l.item(), 1e4f);
  l.backward();
  std::vector<float> g = x.grad().to_vector();
  for (float v : g) EXPECT_TRUE(std::isfinite(v));
  expect_near_all(g, {0, 0, 0.5f, -0.5f}, 0.0f);
}

// [256, 160] logits take the threaded path: loss and gradient against a double reference.
TEST(CrossEntropy, ThreadedPathMatchesReference) {
  const int64_t batch = 256, classes = 160;
  Tensor x = randn({batch, classes}, 31) * 4.0f;
  x.requires_grad_();
  std::vector<int64_t> targets(batch);
  for (int64_t b = 0; b < batch; ++b) targets[b] = (b * 37) % classes;
  Tensor l = cross_entropy(x, targets);
  l.backward();
  std::vector<float> xv = x.detach().to_vector(), g = x.grad().to_vector();
  double ref = 0.0, worst_grad = 0.0;
  for (int64_t b = 0; b < batch; ++b) {
    double m = -1e30, s = 0.0;
    for (int64_t k = 0; k < classes; ++k) m = std::max(m, double(xv[b * classes + k]));
    for (int64_t k = 0; k < classes; ++k) s += std::exp(xv[b * classes + k] - m);
    const double lse = m + std::log(s);
    ref += lse - xv[b * classes + targets[b]];
    for (int64_t k = 0; k < classes; ++k) {
      const double want = (std::exp(xv[b * classes + k] - lse) - (k == targets[b])) / batch;
      worst_grad = std::max(worst_grad, std::fabs(g[b * classes + k] - want));
    }
  }
  ref /= batch;
  EXPECT_NEAR(l.item(), ref, 1e-6 * ref);
  EXPECT_LT(worst_grad, 1e-8);
  // Agrees with the composition -mean(log_softmax[b, t_b]) built from other ops.
  NoGradGuard ng;
  Tensor ls = log_softmax(x.detach(), 1);
  double composed = 0.0;
  for (int64_t b = 0; b < batch; ++b) composed -= ls.at({b, targets[b]});
  EXPECT_NEAR(l.item(), composed / batch, 1e-5 * ref);
}

TEST(CrossEntropy, BadTargetsAndShapesAreNamed) {
  expect_error([] { cross_entropy(zeros({2, 3}), {0, 3}); },
               {"cross_entropy", "target 3", "index 1", "K = 3"});
  expect_error([] { cross_entropy(zeros({2, 3}), {-1, 0}); },
               {"cross_entropy", "target -1", "index 0", "K = 3"});
  expect_error([] { cross_entropy(zeros({4, 3}), {0, 1, 2}); },
               {"cross_entropy", "[4, 3]", "batch of 4", "3 class indices"});
  expect_error([] { cross_entropy(zeros({3}), {0, 1, 2}); }, {"cross_entropy", "[B, K]", "[3]"});
  expect_error([] { cross_entropy(zeros({0, 3}), {}); }, {"cross_entropy", "empty", "[0, 3]"});
}

}  // namespace
}  // namespace mindiff
