// matmul: hand-derived values, a naive-loop comparison with broadcasting, gradient checks
// (batched, broadcast, non-contiguous), and shape errors.
#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;
using test::param_transposed;

Tensor mm(const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }

// out[i0, i1, m, n] = sum_k a[.., m, k] b[.., k, n] in double, with the batch axes of both
// broadcast to rank 2 by index clamping (an extent of 1 always reads index 0).
std::vector<float> naive_matmul(const Tensor& a, const Tensor& b, const Shape& out) {
  auto at4 = [](const Tensor& t, int64_t i0, int64_t i1, int64_t r, int64_t c) {
    Shape s = t.shape();
    int nd = t.ndim();
    int64_t b0 = nd >= 4 ? (s[0] == 1 ? 0 : i0) : 0;
    int64_t b1 = nd >= 3 ? (s[nd - 3] == 1 ? 0 : i1) : 0;
    if (nd == 4) return t.at({b0, b1, r, c});
    if (nd == 3) return t.at({b1, r, c});
    return t.at({r, c});
  };
  const int nd = out.ndim();
  const int64_t n0 = nd >= 4 ? out[0] : 1, n1 = nd >= 3 ? out[nd - 3] : 1;
  const int64_t m = out[nd - 2], n = out[nd - 1], k = a.shape()[a.ndim() - 1];
  std::vector<float> r;
  for (int64_t i0 = 0; i0 < n0; ++i0)
    for (int64_t i1 = 0; i1 < n1; ++i1)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0.0;
          for (int64_t p = 0; p < k; ++p) acc += double(at4(a, i0, i1, i, p)) * at4(b, i0, i1, p, j);
          r.push_back(static_cast<float>(acc));
        }
  return r;
}

TEST(Matmul, HandDerivedValues) {
  // [1 2 3; 4 5 6] @ [1 0; 0 1; 1 1] = [1+3, 2+3; 4+6, 5+6] = [4 5; 10 11].
  Tensor a = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_data({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), Shape({2, 2}));
  EXPECT_EQ(c.to_vector(), (std::vector<float>{4, 5, 10, 11}));
  // Gradient of sum(a @ b): da[m, k] = sum_n b[k, n] = row sums of b = [1, 1, 2] for every m;
  // db[k, n] = sum_m a[m, k] = column sums of a = [5, 7, 9] for every n.
  a.requires_grad_();
  b.requires_grad_();
  sum(matmul(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{1, 1, 2, 1, 1, 2}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{5, 5, 7, 7, 9, 9}));
  // An inner extent of 0 is an empty sum: zeros.
  EXPECT_EQ(matmul(ones({2, 0}), ones({0, 3})).to_vector(), std::vector<float>(6, 0.0f));
}

TEST(Matmul, MatchesNaiveLoopsWithBroadcasting) {
  // Odd extents (partial register tiles) and every kind of batch broadcasting.
  const Shape cases[][2] = {{{7, 13}, {13, 5}},
                            {{3, 9, 17}, {17, 6}},           // rank-2 b shared by the batch
                            {{2, 1, 5, 4}, {3, 4, 7}},       // both broadcast
                            {{5, 8}, {2, 3, 8, 3}},          // rank-2 a shared
                            {{1, 4, 6, 2}, {2, 1, 2, 9}},
                            {{8, 40, 48}, {8, 48, 50}}};      // big enough for threads
  uint64_t seed = 40;
  for (const auto& c : cases) {
    Tensor a = randn(c[0], ++seed), b = randn(c[1], ++seed);
    Tensor out = matmul(a, b);
    test::expect_near_all(out.to_vector(), naive_matmul(a, b, out.shape()), 1e-4f);
  }
}

TEST(Matmul, NonContiguousInputsGiveTheSameBits) {
  // A transposed view goes through sgemm's transpose flag, a stepped slice through a copy; the
  // packed panels hold the same numbers either way, so the products agree exactly.
  Tensor a = randn({2, 19, 11}, 1), b = randn({2, 11, 23}, 2);
  Tensor want = matmul(a, b);
  Tensor at = a.transpose(-1, -2).contiguous().transpose(-1, -2);
  Tensor bt = b.transpose(-1, -2).contiguous().transpose(-1, -2);
  EXPECT_FALSE(at.is_contiguous());
  EXPECT_EQ(matmul(at, bt).to_vector(), want.to_vector());
  Tensor wide = randn({2, 11, 46}, 2);  // every second column
  Tensor bs = wide.slice(2, 0, 46, 2);
  EXPECT_EQ(matmul(a, bs).to_vector(), matmul(a, bs.contiguous()).to_vector());
  Tensor ap = randn({19, 2, 11}, 3).permute({1, 0, 2});  // batch axis not outermost in memory
  EXPECT_EQ(matmul(ap, b).to_vector(), matmul(ap.contiguous(), b).to_vector());
}

TEST(Matmul, Gradients) {
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {param({3, 4}, 1), param({4, 5}, 2)})));
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {param({2, 3, 4}, 3), param({2, 4, 5}, 4)})));
  // Rank-2 b shared by a batched a (the Linear-layer case): db sums over the batch.
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {param({2, 3, 4}, 5), param({4, 2}, 6)})));
  // Both broadcast: a over the second batch axis, b over the first.
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {param({2, 1, 3, 4}, 7), param({3, 4, 2}, 8)})));
  // Rank-2 a shared by a batched b.
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {param({3, 4}, 9), param({2, 4, 3}, 10)})));
  // Transposed views (the sgemm transpose path) on both sides.
  EXPECT_TRUE(grad_ok(
      gradcheck("matmul", mm, {param_transposed({2, 3, 4}, 11), param_transposed({4, 5}, 12)})));
  // A stepped slice (the copy path).
  Tensor wide;
  {
    NoGradGuard ng;
    wide = randn({4, 10}, 13);
  }
  wide.requires_grad_();
  EXPECT_TRUE(grad_ok(gradcheck(
      "matmul", [](auto in) { return matmul(in[0].slice(1, 0, 10, 2), in[1]); },
      {wide, param({5, 3}, 14)})));
  // Only one side requires grad.
  EXPECT_TRUE(grad_ok(gradcheck("matmul", mm, {randn({3, 4}, 15), param({4, 2}, 16)})));
}

TEST(Matmul, ShapeErrors) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 5})); },
               {"matmul", "[2, 3]", "[4, 5]", "inner extents 3 and 4"});
  expect_error([] { matmul(zeros({3}), zeros({3, 5})); }, {"matmul", "[3]", "[3, 5]", "rank"});
  expect_error([] { matmul(zeros({2, 3, 4}), zeros({5, 4, 6})); },
               {"matmul", "[2, 3, 4]", "[5, 4, 6]", "broadcast"});
}

}  // namespace
}  // namespace mindiff
