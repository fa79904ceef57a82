// View ops: shared storage (writes through a view reach the base), geometry, gradient checks.
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;

TEST(View, WritesThroughViewsAreSeenByTheBase) {
  Tensor base = zeros({2, 3});
  // A transposed view: element (j, i) of t is element (i, j) of base.
  Tensor t = base.transpose(0, 1);
  t.set({2, 1}, 5.0f);
  EXPECT_EQ(base.at({1, 2}), 5.0f);
  // A slice of column 1 filled in place.
  base.slice(1, 1, 2).fill_(7.0f);
  EXPECT_EQ(base.at({0, 1}), 7.0f);
  EXPECT_EQ(base.at({1, 1}), 7.0f);
  EXPECT_EQ(t.at({1, 0}), 7.0f);
  // A reshape of a contiguous tensor shares storage too.
  Tensor flat = base.reshape({6});
  flat.set({0}, -1.0f);
  EXPECT_EQ(base.at({0, 0}), -1.0f);
  EXPECT_EQ(flat.storage(), base.storage());
}

TEST(View, GeometryOfPermuteSliceExpand) {
  Tensor x = arange(24).reshape({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});  // [4, 2, 3], p[k, i, j] = x[i, j, k] = 12i + 4j + k
  EXPECT_EQ(p.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(p.strides(), Shape({1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.at({3, 1, 2}), 12 + 8 + 3);
  // Every other element of the last axis, from 1: k = 1, 3.
  Tensor s = x.slice(2, 1, 4, 2);
  EXPECT_EQ(s.shape(), Shape({2, 3, 2}));
  test::expect_near_all(s.slice(0, 0, 1).slice(1, 0, 1).to_vector(), {1.0f, 3.0f}, 0.0f);
  // Negative positions count from the end: the last two rows.
  EXPECT_EQ(x.slice(1, -2, 3).shape(), Shape({2, 2, 4}));
  // Expand a [3, 1] column to [2, 3, 4] with zero strides, no copy.
  Tensor col = from_data({1, 2, 3}, {3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_EQ(e.strides(), Shape({0, 1, 0}));
  EXPECT_EQ(e.storage(), col.storage());
  EXPECT_EQ(e.at({1, 2, 3}), 3.0f);
  // contiguous() of a permuted view copies into row-major order.
  Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector(), p.to_vector());
  EXPECT_NE(c.storage(), p.storage());
  EXPECT_TRUE(x.contiguous().same_as(x));  // already contiguous: no copy
}

TEST(View, ReshapeInfersAndCopiesOnlyWhenNeeded) {
  Tensor x = arange(12).reshape({3, -1});
  EXPECT_EQ(x.shape(), Shape({3, 4}));
  Tensor t = x.transpose(0, 1);                 // [4, 3], not viewable as [12] in order
  Tensor r = t.reshape({12});
  EXPECT_NE(r.storage(), x.storage());          // had to copy
  EXPECT_EQ(r.to_vector()[1], 4.0f);            // t[0, 1] = x[1, 0] = 4
  expect_error([&] { t.view({12}); }, {"view", "[4, 3]", "not contiguous"});
  expect_error([&] { x.reshape({5, -1}); }, {"reshape", "[3, 4]", "[5, -1]"});
  expect_error([&] { x.expand({3, 5}); }, {"expand", "[3, 4]", "[3, 5]"});
  expect_error([&] { x.permute({0, 0}); }, {"permute", "repeated"});
}

TEST(View, GradientsMatchFiniteDifferences) {
  auto weighted = [](const Tensor& t) {  // makes every output element matter differently
    return t * randn(t.shape(), 99);
  };
  EXPECT_TRUE(grad_ok(gradcheck("reshape", [&](auto in) { return weighted(in[0].reshape({4, 6})); },
                                {param({2, 3, 4}, 1)})));
  EXPECT_TRUE(grad_ok(gradcheck(
      "permute", [&](auto in) { return weighted(in[0].permute({2, 0, 1})); }, {param({2, 3, 4}, 2)})));
  EXPECT_TRUE(grad_ok(gradcheck(
      "slice", [&](auto in) { return weighted(in[0].slice(1, 1, 5, 2)); }, {param({3, 6}, 3)})));
  EXPECT_TRUE(grad_ok(gradcheck(
      "expand", [&](auto in) { return weighted(in[0].expand({2, 3, 4})); }, {param({3, 1}, 4)})));
  EXPECT_TRUE(grad_ok(gradcheck(
      "contiguous", [&](auto in) { return weighted(in[0].contiguous()); },
      {test::param_transposed({3, 4}, 5)})));
  // A reshape of a non-contiguous view goes through contiguous() and then a view.
  EXPECT_TRUE(grad_ok(gradcheck(
      "reshape", [&](auto in) { return weighted(in[0].reshape({-1})); },
      {test::param_transposed({3, 4}, 6)})));
}

TEST(View, SliceGradientPutsZerosOutsideTheSlice) {
  Tensor x = param({5}, 7);
  sum(x.slice(0, 1, 4, 2)).backward();  // elements 1 and 3
  test::expect_near_all(x.grad().to_vector(), {0, 1, 0, 1, 0}, 0.0f);
}

}  // namespace
}  // namespace mindiff
