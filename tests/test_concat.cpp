// concat, split and chunk: values, gradient checks (including non-contiguous inputs), the
// split/concat round trip, and shape errors.
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;
using test::param_transposed;

TEST(Concat, ValuesAlongEachAxis) {
  Tensor a = from_data({1, 2, 3, 4}, {2, 2});  // [[1, 2], [3, 4]]
  Tensor b = from_data({5, 6}, {1, 2});        // [[5, 6]]
  Tensor c = from_data({7, 8}, {2, 1});        // [[7], [8]]
  // Axis 0 stacks rows: [[1, 2], [3, 4], [5, 6]].
  Tensor r = concat({a, b}, 0);
  EXPECT_EQ(r.shape(), Shape({3, 2}));
  test::expect_near_all(r.to_vector(), {1, 2, 3, 4, 5, 6}, 0.0f);
  // Axis -1 (= 1) appends columns: [[1, 2, 7], [3, 4, 8]].
  Tensor s = concat({a, c}, -1);
  EXPECT_EQ(s.shape(), Shape({2, 3}));
  test::expect_near_all(s.to_vector(), {1, 2, 7, 3, 4, 8}, 0.0f);
  // A transposed view is read in its logical order: a^T = [[1, 3], [2, 4]].
  test::expect_near_all(concat({a.transpose(0, 1), b}, 0).to_vector(), {1, 3, 2, 4, 5, 6}, 0.0f);
  // A single input gives a copy; an empty piece contributes nothing.
  test::expect_near_all(concat({a}, 1).to_vector(), {1, 2, 3, 4}, 0.0f);
  test::expect_near_all(concat({a, zeros({0, 2}), b}, 0).to_vector(), {1, 2, 3, 4, 5, 6}, 0.0f);
}

TEST(Concat, Rank4ChannelsAxis) {
  // The U-Net skip connection: [B, C1, H, W] and [B, C2, H, W] along C. Element (b, c, h, w) of
  // the output is x1[b, c, h, w] for c < C1, else x2[b, c - C1, h, w].
  Tensor x1 = randn({2, 3, 2, 2}, 1), x2 = randn({2, 1, 2, 2}, 2);
  Tensor out = concat({x1, x2}, 1);
  ASSERT_EQ(out.shape(), Shape({2, 4, 2, 2}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t w = 0; w < 2; ++w)
          EXPECT_EQ(out.at({b, c, h, w}), c < 3 ? x1.at({b, c, h, w}) : x2.at({b, 0, h, w}));
}

TEST(Concat, GradientTwoAndThreeInputs) {
  auto f = [](int axis) {
    return [axis](const std::vector<Tensor>& in) { return concat(in, axis); };
  };
  EXPECT_TRUE(grad_ok(gradcheck("concat", f(0), {param({2, 3}, 1), param({1, 3}, 2)})));
  EXPECT_TRUE(grad_ok(gradcheck("concat", f(1), {param({2, 3}, 3), param({2, 2}, 4)})));
  EXPECT_TRUE(grad_ok(
      gradcheck("concat", f(0), {param({1, 3}, 5), param({2, 3}, 6), param({3, 3}, 7)})));
  EXPECT_TRUE(grad_ok(
      gradcheck("concat", f(1), {param({2, 1, 3}, 8), param({2, 2, 3}, 9), param({2, 1, 3}, 10)})));
  // Non-contiguous inputs (a transposed leaf) along both axes.
  Tensor t = param_transposed({3, 2}, 11);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("concat", f(0), {param({2, 2}, 12), t, param({1, 2}, 13)})));
  EXPECT_TRUE(grad_ok(gradcheck("concat", f(1), {t, param({3, 4}, 14)})));
  // Only some inputs require grad.
  EXPECT_TRUE(grad_ok(gradcheck("concat", f(-1), {randn({2, 2}, 15), param({2, 3}, 16)})));
}

TEST(Split, ValuesAndRoundTrip) {
  Tensor x = arange(12).reshape({3, 4});  // row r holds 4r .. 4r+3
  std::vector<Tensor> p = split(x, 1, {1, 3});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].shape(), Shape({3, 1}));
  EXPECT_EQ(p[1].shape(), Shape({3, 3}));
  test::expect_near_all(p[0].to_vector(), {0, 4, 8}, 0.0f);
  test::expect_near_all(p[1].to_vector(), {1, 2, 3, 5, 6, 7, 9, 10, 11}, 0.0f);
  // The pieces are views of x.
  EXPECT_EQ(p[1].storage(), x.storage());
  // Round trips along both axes, and through chunk.
  test::expect_near_all(concat(split(x, 0, {2, 0, 1}), 0).to_vector(), x.to_vector(), 0.0f);
  test::expect_near_all(concat(p, 1).to_vector(), x.to_vector(), 0.0f);
  std::vector<Tensor> q = chunk(x, 2, -1);
  ASSERT_EQ(q.size(), 2u);
  test::expect_near_all(q[1].to_vector(), {2, 3, 6, 7, 10, 11}, 0.0f);
  test::expect_near_all(concat(q, 1).to_vector(), x.to_vector(), 0.0f);
}

TEST(Split, GradientFlowsThroughPieces) {
  // f = p1 * p0 with p0 = x[:, :1] broadcast against p1 = x[:, 1:]: both pieces carry gradient
  // back into the same x, so the slice backward must scatter and the two contributions add.
  EXPECT_TRUE(grad_ok(gradcheck(
      "slice",
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> p = split(in[0], 1, {1, 3});
        return p[1] * p[0];
      },
      {param({2, 4}, 21)})));
  // chunk, then concat in swapped order.
  EXPECT_TRUE(grad_ok(gradcheck(
      "concat",
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> c = chunk(in[0], 3, 0);
        return concat({c[2], c[0] * c[1]}, 0);
      },
      {param_transposed({6, 2}, 22)})));
}

TEST(Concat, ErrorsNameOpAxisAndShapes) {
  expect_error([] { concat({zeros({2, 3}), zeros({3, 3})}, 1); },
               {"concat", "axis 1", "[2, 3]", "[3, 3]"});
  expect_error([] { concat({zeros({2, 3}), zeros({2, 3, 1})}, 0); },
               {"concat", "axis 0", "[2, 3]", "[2, 3, 1]"});
  expect_error([] { concat({zeros({2, 3})}, 2); }, {"concat", "axis 2", "rank 2"});
  expect_error([] { concat({}, 0); }, {"concat", "no tensors"});
  expect_error([] { split(zeros({2, 5}), 1, {2, 2}); }, {"split", "sum to 4", "[2, 5]"});
  expect_error([] { chunk(zeros({2, 5}), 2, 1); }, {"chunk", "[2, 5]", "2 chunks"});
}

}  // namespace
}  // namespace mindiff
