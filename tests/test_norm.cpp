// group_norm and layer_norm: hand-derived values, per-group statistics, a plain-loop reference,
// gradient checks for x, weight and bias (several group counts, no affine, non-contiguous x),
// thread-count independence, and argument errors.
#include <omp.h>

#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;

// Straight from the definition, in double: x [B, C, S] contiguous, groups of C/G channels.
std::vector<float> reference_group_norm(const Tensor& x, int G, const std::vector<float>& w,
                                        const std::vector<float>& b, double eps) {
  const int64_t B = x.shape()[0], C = x.shape()[1], S = x.numel() / (B * C), Cg = C / G;
  std::vector<float> v = x.to_vector(), y(v.size());
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t first = (bi * C + g * Cg) * S, n = Cg * S;
      double mu = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mu += v[first + i];
      mu /= n;
      for (int64_t i = 0; i < n; ++i) var += (v[first + i] - mu) * (v[first + i] - mu);
      var /= n;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = g * Cg + i / S;
        y[first + i] = static_cast<float>((v[first + i] - mu) / std::sqrt(var + eps) * w[c] + b[c]);
      }
    }
  return y;
}

TEST(GroupNorm, HandDerivedValues) {
  // One group {1, 2, 3, 4}: mean 2.5, biased variance (1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 4 = 1.25,
  // so with eps = 0, xhat = (x - 2.5) / sqrt(1.25) = {-1.5, -0.5, 0.5, 1.5} / 1.118034
  //                                               = {-1.341641, -0.447214, 0.447214, 1.341641}.
  Tensor x = from_data({1, 2, 3, 4}, {1, 2, 2});  // B = 1, C = 2 channels of L = 2
  test::expect_near_all(group_norm(x, 1, Tensor(), Tensor(), 0.0f).to_vector(),
                        {-1.341641f, -0.447214f, 0.447214f, 1.341641f}, 1e-6f);
  // With weight {2, -1} and bias {0.5, 1}: channel 0 holds the first two values,
  // y = {-2.683282 + 0.5, -0.894427 + 0.5, -0.447214 + 1, -1.341641 + 1}.
  Tensor w = from_data({2, -1}, {2}), b = from_data({0.5f, 1}, {2});
  test::expect_near_all(group_norm(x, 1, w, b, 0.0f).to_vector(),
                        {-2.183282f, -0.394427f, 0.552786f, -0.341641f}, 1e-6f);
  // G = 2: each channel alone; {1, 2} has mean 1.5, variance 0.25, so xhat = {-1, 1}; same
  // for {3, 4}. With eps = 0.75 the denominator is sqrt(0.25 + 0.75) = 1: xhat = {-0.5, 0.5}.
  test::expect_near_all(group_norm(x, 2, Tensor(), Tensor(), 0.0f).to_vector(), {-1, 1, -1, 1},
                        1e-6f);
  test::expect_near_all(group_norm(x, 2, Tensor(), Tensor(), 0.75f).to_vector(),
                        {-0.5f, 0.5f, -0.5f, 0.5f}, 1e-6f);
}

TEST(GroupNorm, HandDerivedGradient) {
  // Sum of the outputs of a group without affine is always 0 (xhat has mean 0), so with
  // dout = 1 everywhere dx = rstd * (1 - 1 - xhat * mean(xhat)) = 0, while db = sum of dout over
  // (b, s) = 2 per channel and dw = sum of xhat over the channel's elements:
  // channel 0: -1.341641 - 0.447214 = -1.788854; channel 1: +1.788854.
  Tensor x = from_data({1, 2, 3, 4}, {1, 2, 2});
  Tensor w = ones({2}), b = zeros({2});
  x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  group_norm(x, 1, w, b, 0.0f).backward(ones({1, 2, 2}));
  test::expect_near_all(x.grad().to_vector(), {0, 0, 0, 0}, 1e-6f);
  test::expect_near_all(w.grad().to_vector(), {-1.788854f, 1.788854f}, 1e-6f);
  test::expect_near_all(b.grad().to_vector(), {2, 2}, 0.0f);
}

TEST(GroupNorm, GroupStatisticsAndReference) {
  // x = 3 N(0,1) + 5 over [4, 32, 16, 16] (32768 elements: the threaded path), G = 8.
  const int64_t B = 4, C = 32, G = 8, HW = 256;
  Tensor x = randn({B, C, 16, 16}, 3) * 3.0f + 5.0f;
  Tensor y = group_norm(x, G, Tensor(), Tensor());
  std::vector<float> v = y.to_vector();
  const int64_t n = C / G * HW;
  for (int64_t grp = 0; grp < B * G; ++grp) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mu += v[grp * n + i];
    mu /= n;
    for (int64_t i = 0; i < n; ++i) var += (v[grp * n + i] - mu) * (v[grp * n + i] - mu);
    var /= n;
    // Mean 0 and variance var_x / (var_x + eps) = 1 - eps / 9 to float rounding (~1e-6).
    EXPECT_NEAR(mu, 0.0, 1e-5) << "group " << grp;
    EXPECT_NEAR(var, 1.0, 1e-5) << "group " << grp;
  }
  // Affine, against the plain-loop reference.
  Tensor w = randn({C}, 4), b = randn({C}, 5);
  test::expect_near_all(group_norm(x, G, w, b).to_vector(),
                        reference_group_norm(x, G, w.to_vector(), b.to_vector(), 1e-5), 1e-5f);
  // Rank 3 [B, C, L] and rank 2 [B, C].
  Tensor x3 = randn({2, 6, 5}, 6), x2 = randn({3, 8}, 7);
  std::vector<float> ones6(6, 1.0f), zeros6(6, 0.0f), ones8(8, 1.0f), zeros8(8, 0.0f);
  test::expect_near_all(group_norm(x3, 3, Tensor(), Tensor()).to_vector(),
                        reference_group_norm(x3, 3, ones6, zeros6, 1e-5), 1e-5f);
  test::expect_near_all(group_norm(x2, 2, Tensor(), Tensor()).to_vector(),
                        reference_group_norm(x2, 2, ones8, zeros8, 1e-5), 1e-5f);
}

TEST(GroupNorm, GradientForXWeightBias) {
  auto f = [](int G) {
    return [G](const std::vector<Tensor>& in) { return group_norm(in[0], G, in[1], in[2]); };
  };
  // C = 4 over 3 x 3 images: G = 1 (36-element groups), G = 2, G = C (9-element groups).
  for (int G : {1, 2, 4})
    EXPECT_TRUE(grad_ok(gradcheck("group_norm", f(G),
                                  {param({2, 4, 3, 3}, 10 + G), param({4}, 20 + G),
                                   param({4}, 30 + G)})))
        << "G = " << G;
  // No affine.
  EXPECT_TRUE(grad_ok(gradcheck(
      "group_norm", [](const std::vector<Tensor>& in) { return group_norm(in[0], 2, Tensor(), Tensor()); },
      {param({2, 4, 2, 3}, 40)})));
  // Weight only, bias fixed; rank 3 and rank 2 inputs.
  EXPECT_TRUE(grad_ok(
      gradcheck("group_norm", f(3), {param({2, 6, 4}, 41), param({6}, 42), randn({6}, 43)})));
  EXPECT_TRUE(grad_ok(
      gradcheck("group_norm", f(2), {param({3, 8}, 44), param({8}, 45), param({8}, 46)})));
  // Non-contiguous x: [B, C, H, W] permuted from a channels-last [B, H, W, C] leaf.
  Tensor xp;
  {
    NoGradGuard ng;
    xp = randn({2, 3, 2, 4}, 47).permute({0, 3, 1, 2});
  }
  xp.requires_grad_();
  EXPECT_FALSE(xp.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("group_norm", f(2), {xp, param({4}, 48), param({4}, 49)})));
}

TEST(GroupNorm, SameResultForAnyThreadCount) {
  // Forward and all three gradients, bit for bit, on one thread and on four.
  auto run = [](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tensor x = randn({4, 32, 16, 16}, 50), w = randn({32}, 51), b = randn({32}, 52);
    x.requires_grad_();
    w.requires_grad_();
    b.requires_grad_();
    Tensor y = group_norm(x, 8, w, b);
    y.backward(randn(y.shape(), 53));
    omp_set_num_threads(saved);
    std::vector<float> all = y.to_vector();
    for (const Tensor& g : {x.grad(), w.grad(), b.grad()}) {
      std::vector<float> v = g.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  EXPECT_EQ(run(1), run(4));
}

TEST(LayerNorm, ValuesMatchDefinition) {
  // Each row {1, 2, 3, 4} + 10 r normalises to the same xhat as in GroupNorm.HandDerivedValues.
  Tensor x = from_data({1, 2, 3, 4, 11, 12, 13, 14}, {2, 4});
  std::vector<float> xhat = {-1.341641f, -0.447214f, 0.447214f, 1.341641f};
  std::vector<float> want = xhat;
  want.insert(want.end(), xhat.begin(), xhat.end());
  test::expect_near_all(layer_norm(x, {4}, Tensor(), Tensor(), 0.0f).to_vector(), want, 1e-5f);
  // Over the last two axes of [2, 2, 2] the rows are the same two groups; weight [2, 2].
  Tensor w = from_data({1, 2, 3, 4}, {2, 2}), b = full({2, 2}, 1.0f);
  std::vector<float> got = layer_norm(x.reshape({2, 2, 2}), {2, 2}, w, b, 0.0f).to_vector();
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(got[i], xhat[i % 4] * (i % 4 + 1) + 1.0f, 1e-5f);
  // layer_norm over the last axis of [R, N] is group_norm of [R, N] with one group.
  Tensor r = randn({5, 7}, 60), lw = randn({7}, 61), lb = randn({7}, 62);
  test::expect_near_all(layer_norm(r, {7}, lw, lb).to_vector(),
                        group_norm(r, 1, lw, lb).to_vector(), 0.0f);
}

TEST(LayerNorm, Gradient) {
  auto f = [](const Shape& ns) {
    return [ns](const std::vector<Tensor>& in) { return layer_norm(in[0], ns, in[1], in[2]); };
  };
  EXPECT_TRUE(grad_ok(
      gradcheck("layer_norm", f({5}), {param({3, 5}, 70), param({5}, 71), param({5}, 72)})));
  EXPECT_TRUE(grad_ok(gradcheck("layer_norm", f({3, 4}),
                                {param({2, 3, 4}, 73), param({3, 4}, 74), param({3, 4}, 75)})));
  // Non-contiguous x, no affine.
  EXPECT_TRUE(grad_ok(gradcheck(
      "layer_norm",
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}, Tensor(), Tensor()); },
      {test::param_transposed({4, 6}, 76)})));
}

TEST(Norm, Errors) {
  expect_error([] { group_norm(zeros({2, 6, 4, 4}), 4, Tensor(), Tensor()); },
               {"group_norm", "C = 6", "G = 4", "[2, 6, 4, 4]"});
  expect_error([] { group_norm(zeros({2, 6, 4, 4}), 2, zeros({5}), Tensor()); },
               {"group_norm", "weight", "[5]", "[6]", "[2, 6, 4, 4]"});
  expect_error([] { group_norm(zeros({2, 6}), 2, zeros({6}), zeros({6, 1})); },
               {"group_norm", "bias", "[6, 1]", "[6]"});
  expect_error([] { group_norm(zeros({6}), 1, Tensor(), Tensor()); }, {"group_norm", "[6]"});
  expect_error([] { layer_norm(zeros({2, 4}), {5}, Tensor(), Tensor()); },
               {"layer_norm", "[5]", "[2, 4]"});
  expect_error([] { layer_norm(zeros({2, 4}), {4}, zeros({2, 4}), Tensor()); },
               {"layer_norm", "weight", "[2, 4]", "[4]"});
}

}  // namespace
}  // namespace mindiff
