// upsample_nearest2d and avg_pool2d: hand-derived values of forward and backward, gradient
// checks (overlapping, gapped and non-contiguous cases), and argument errors.
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;

// A [1, 1, 4, 4] image holding 0 .. 15 in row-major order: pixel (p, q) = 4p + q.
Tensor ramp4x4() { return arange(16).reshape({1, 1, 4, 4}); }

TEST(Upsample, HandDerivedForwardAndBackward) {
  // [[1, 2], [3, 4]] doubled: each pixel becomes a 2 x 2 block.
  Tensor x = from_data({1, 2, 3, 4}, {1, 1, 2, 2});
  x.requires_grad_();
  Tensor y = upsample_nearest2d(x, 2);
  ASSERT_EQ(y.shape(), Shape({1, 1, 4, 4}));
  test::expect_near_all(y.to_vector(), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0.0f);
  // With dout = ramp (pixel (p, q) = 4p + q), dx sums each 2 x 2 block:
  // dx[0,0] = 0+1+4+5 = 10, dx[0,1] = 2+3+6+7 = 18, dx[1,0] = 8+9+12+13 = 42, dx[1,1] = 50.
  y.backward(ramp4x4());
  test::expect_near_all(x.grad().to_vector(), {10, 18, 42, 50}, 0.0f);
  // Factor 1 is a copy; factor 3 on a 1 x 1 image fills 3 x 3.
  test::expect_near_all(upsample_nearest2d(ramp4x4(), 1).to_vector(), ramp4x4().to_vector(), 0.0f);
  test::expect_near_all(upsample_nearest2d(full({1, 1, 1, 1}, 7), 3).to_vector(),
                        std::vector<float>(9, 7.0f), 0.0f);
}

TEST(Upsample, Gradient) {
  auto f = [](int factor) {
    return [factor](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], factor); };
  };
  EXPECT_TRUE(grad_ok(gradcheck("upsample_nearest2d", f(2), {param({2, 3, 2, 3}, 1)})));
  EXPECT_TRUE(grad_ok(gradcheck("upsample_nearest2d", f(3), {param({1, 2, 3, 2}, 2)})));
  // Non-contiguous: a [B, C, H, W] view permuted from a [B, H, W, C] leaf (channels last).
  Tensor nhwc = param({2, 3, 2, 2}, 3);
  Tensor g;
  {
    NoGradGuard ng;
    g = nhwc.detach().permute({0, 3, 1, 2});
  }
  g.requires_grad_();
  EXPECT_FALSE(g.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("upsample_nearest2d", f(2), {g})));
}

TEST(AvgPool, HandDerivedForward) {
  // k = 2, s = 2 on the ramp: window means (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5,
  // (8+9+12+13)/4 = 10.5, (10+11+14+15)/4 = 12.5.
  test::expect_near_all(avg_pool2d(ramp4x4(), 2).to_vector(), {2.5f, 4.5f, 10.5f, 12.5f}, 0.0f);
  // k = 3, s = 1: Ho = (4-3)/1 + 1 = 2; the window at (0, 0) holds 0,1,2,4,5,6,8,9,10 (sum 45,
  // mean 5); shifting right adds 1, shifting down adds 4.
  Tensor y = avg_pool2d(ramp4x4(), 3, 1);
  ASSERT_EQ(y.shape(), Shape({1, 1, 2, 2}));
  test::expect_near_all(y.to_vector(), {5, 6, 9, 10}, 1e-6f);
  // k = 1, s = 3: Ho = (4-1)/3 + 1 = 2, picking pixels (0,0)=0, (0,3)=3, (3,0)=12, (3,3)=15.
  test::expect_near_all(avg_pool2d(ramp4x4(), 1, 3).to_vector(), {0, 3, 12, 15}, 0.0f);
  // k = 2, s = 3 on 5 x 5 drops the last row and column: Ho = (5-2)/3 + 1 = 2.
  EXPECT_EQ(avg_pool2d(zeros({2, 3, 5, 5}), 2, 3).shape(), Shape({2, 3, 2, 2}));
}

TEST(AvgPool, HandDerivedBackward) {
  // k = 2, s = 1, dout = 1 on the 3 x 3 output: along each axis the 4 pixels are covered by
  // 1, 2, 2, 1 windows, so dx[p, q] = count(p) * count(q) / 4.
  Tensor x = zeros({1, 1, 4, 4});
  x.requires_grad_();
  avg_pool2d(x, 2, 1).backward(ones({1, 1, 3, 3}));
  const float c[4] = {1, 2, 2, 1};
  std::vector<float> want;
  for (int p = 0; p < 4; ++p)
    for (int q = 0; q < 4; ++q) want.push_back(c[p] * c[q] / 4.0f);
  test::expect_near_all(x.grad().to_vector(), want, 0.0f);
  // k = 1, s = 2: only pixels with even (p, q) are in a window; each gets dout / 1.
  Tensor z = zeros({1, 1, 3, 3});
  z.requires_grad_();
  avg_pool2d(z, 1, 2).backward(from_data({1, 2, 3, 4}, {1, 1, 2, 2}));
  test::expect_near_all(z.grad().to_vector(), {1, 0, 2, 0, 0, 0, 3, 0, 4}, 0.0f);
}

TEST(AvgPool, Gradient) {
  auto f = [](int k, int s) {
    return [k, s](const std::vector<Tensor>& in) { return avg_pool2d(in[0], k, s); };
  };
  EXPECT_TRUE(grad_ok(gradcheck("avg_pool2d", f(2, 0), {param({2, 3, 4, 6}, 1)})));
  EXPECT_TRUE(grad_ok(gradcheck("avg_pool2d", f(3, 1), {param({1, 2, 5, 4}, 2)})));  // overlap
  EXPECT_TRUE(grad_ok(gradcheck("avg_pool2d", f(2, 3), {param({1, 2, 6, 5}, 3)})));  // gaps
  // Non-contiguous: the last two axes transposed.
  Tensor t = test::param_transposed({2, 2, 5, 4}, 4);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("avg_pool2d", f(2, 1), {t})));
}

TEST(UpsamplePool, PoolUndoesUpsample) {
  // Averaging each f x f block of an upsampled image returns the image, up to the rounding of
  // v + v + v (3v may need one more bit than v). Large enough (65536 upsampled elements) to
  // run threaded.
  Tensor x = randn({2, 8, 32, 32}, 9);
  test::expect_near_all(avg_pool2d(upsample_nearest2d(x, 2), 2).to_vector(), x.to_vector(), 1e-6f);
}

TEST(UpsamplePool, Errors) {
  expect_error([] { upsample_nearest2d(zeros({2, 3}), 2); },
               {"upsample_nearest2d", "[B, C, H, W]", "[2, 3]"});
  expect_error([] { upsample_nearest2d(zeros({1, 1, 2, 2}), 0); },
               {"upsample_nearest2d", "factor", "0", "[1, 1, 2, 2]"});
  expect_error([] { avg_pool2d(zeros({3, 4, 4}), 2); }, {"avg_pool2d", "[B, C, H, W]", "[3, 4, 4]"});
  expect_error([] { avg_pool2d(zeros({1, 1, 4, 2}), 3); },
               {"avg_pool2d", "kernel 3", "larger", "[1, 1, 4, 2]"});
  expect_error([] { avg_pool2d(zeros({1, 1, 4, 4}), 0); }, {"avg_pool2d", "kernel", "0"});
  expect_error([] { avg_pool2d(zeros({1, 1, 4, 4}), 2, -1); }, {"avg_pool2d", "stride", "-1"});
}

}  // namespace
}  // namespace mindiff
