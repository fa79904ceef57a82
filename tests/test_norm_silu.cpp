// group_norm_silu: against the composition silu(group_norm(x)) (values and all three gradients),
// against plain double-precision loops written from the definition (forward and backward, also
// for group_norm's vectorised kernels), finite-difference gradients (several group counts, no
// affine, rank 3, non-contiguous x), the same bits for any thread count and run, and argument
// errors naming the op.
#include <omp.h>

#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::grad_ok;
using test::param;

// The fused op and the composition run the same statistics kernel and the same silu and silu'
// formulas (vector_math.h), so they agree to the bit today (measured); the tolerance leaves room
// for a compiler that contracts a multiply-add differently in one of them: a few roundings of
// values of order 1.
constexpr float kCompositionTol = 1e-6f;
// Float kernels (float lanes, blocks added in double; silu within 2 ulp of exact) against loops
// in double: measured worst 2.3e-7 relative to the largest magnitude of each compared result;
// float rounding of values and of sums over up to 1024 elements. A wrong term or factor is off
// by O(1).
constexpr double kReferenceRelTol = 2e-6;

// The largest |got - want| over the elements, relative to the largest |want|.
double max_rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return err / scale;
}

double silu_d(double v) { return v / (1.0 + std::exp(-v)); }
double silu_grad_d(double v) {
  const double s = 1.0 / (1.0 + std::exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

// Forward and backward of y = act(xhat * w + b) straight from the formulas of norm.h, in double:
// x [B, C, S] contiguous, G groups, dout like x.
struct Reference {
  std::vector<double> y, dx, dw, db;
};
Reference reference_norm(const Tensor& x, int G, const Tensor& w, const Tensor& b,
                         const Tensor& dout, bool with_silu, double eps = 1e-5) {
  const int64_t B = x.size(0), C = x.size(1), S = x.numel() / (B * C), Cg = C / G, n = Cg * S;
  const std::vector<float> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector(),
                           gv = dout.to_vector();
  Reference r{std::vector<double>(xv.size()), std::vector<double>(xv.size()),
              std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t first = (bi * C + g * Cg) * S;
      double mu = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mu += xv[first + i];
      mu /= n;
      for (int64_t i = 0; i < n; ++i) var += (xv[first + i] - mu) * (xv[first + i] - mu);
      var /= n;
      const double rs = 1.0 / std::sqrt(var + eps);
      // gw = dL/dxhat = dL/dpre * w; the mean terms of dx.
      std::vector<double> xhat(n), gw(n);
      double mean_gw = 0, mean_gwx = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = g * Cg + i / S, k = first + i;
        xhat[i] = (xv[k] - mu) * rs;
        const double pre = xhat[i] * wv[c] + bv[c];
        r.y[k] = with_silu ? silu_d(pre) : pre;
        const double gp = gv[k] * (with_silu ? silu_grad_d(pre) : 1.0);
        gw[i] = gp * wv[c];
        r.dw[c] += gp * xhat[i];
        r.db[c] += gp;
        mean_gw += gw[i] / n;
        mean_gwx += gw[i] * xhat[i] / n;
      }
      for (int64_t i = 0; i < n; ++i)
        r.dx[first + i] = rs * (gw[i] - mean_gw - xhat[i] * mean_gwx);
    }
  return r;
}

struct Outputs {
  std::vector<float> y, dx, dw, db;
};
// One forward and backward of f(x, w, b) with dout, on fresh leaves.
template <class F>
Outputs run_op(F f, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& dout) {
  auto leaf = [](const Tensor& t) { return from_data(t.to_vector(), t.shape()).requires_grad_(); };
  Tensor x = leaf(x0), w = leaf(w0), b = leaf(b0);
  Tensor y = f(x, w, b);
  y.backward(dout);
  return {y.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
}

Tensor fused(const Tensor& x, const Tensor& w, const Tensor& b) {
  return group_norm_silu(x, 8, w, b);
}
Tensor composed(const Tensor& x, const Tensor& w, const Tensor& b) {
  return silu(group_norm(x, 8, w, b));
}
Tensor plain(const Tensor& x, const Tensor& w, const Tensor& b) { return group_norm(x, 8, w, b); }

// [4, 32, 16, 16] (32768 elements: the threaded path), 8 groups of 1024 elements, x = 3 N + 2.
struct Case {
  Tensor x = randn({4, 32, 16, 16}, 1) * 3.0f + 2.0f;
  Tensor w = randn({32}, 2), b = randn({32}, 3), dout = randn({4, 32, 16, 16}, 4);
};

TEST(GroupNormSilu, MatchesTheComposition) {
  Case k;
  const Outputs f = run_op(fused, k.x, k.w, k.b, k.dout), c = run_op(composed, k.x, k.w, k.b, k.dout);
  test::expect_near_all(f.y, c.y, kCompositionTol);
  test::expect_near_all(f.dx, c.dx, kCompositionTol);
  // dweight and dbias sum 4 * 256 products of order 1 per channel: allow for their size.
  for (size_t i = 0; i < f.dw.size(); ++i) {
    EXPECT_NEAR(f.dw[i], c.dw[i], kCompositionTol * (1.0f + std::fabs(c.dw[i]))) << i;
    EXPECT_NEAR(f.db[i], c.db[i], kCompositionTol * (1.0f + std::fabs(c.db[i]))) << i;
  }
}

TEST(GroupNormSilu, FusedAndPlainKernelsMatchDoubleReference) {
  Case k;
  for (bool with_silu : {true, false}) {
    SCOPED_TRACE(with_silu ? "group_norm_silu" : "group_norm");
    const Outputs got = run_op(with_silu ? fused : plain, k.x, k.w, k.b, k.dout);
    const Reference want = reference_norm(k.x, 8, k.w, k.b, k.dout, with_silu);
    EXPECT_LT(max_rel_error(got.y, want.y), kReferenceRelTol);
    EXPECT_LT(max_rel_error(got.dx, want.dx), kReferenceRelTol);
    EXPECT_LT(max_rel_error(got.dw, want.dw), kReferenceRelTol);
    EXPECT_LT(max_rel_error(got.db, want.db), kReferenceRelTol);
  }
  // Odd spatial sizes (S = 7 * 5: tails of the 8-lane loops) and rank 3, serial path.
  Tensor x = randn({3, 6, 7, 5}, 5), w = randn({6}, 6), b = randn({6}, 7), d = randn({3, 6, 7, 5}, 8);
  auto f3 = [](const Tensor& xi, const Tensor& wi, const Tensor& bi) {
    return group_norm_silu(xi, 3, wi, bi);
  };
  const Outputs got = run_op(f3, x, w, b, d);
  const Reference want = reference_norm(x, 3, w, b, d, true);
  EXPECT_LT(max_rel_error(got.y, want.y), kReferenceRelTol);
  EXPECT_LT(max_rel_error(got.dx, want.dx), kReferenceRelTol);
  EXPECT_LT(max_rel_error(got.dw, want.dw), kReferenceRelTol);
  EXPECT_LT(max_rel_error(got.db, want.db), kReferenceRelTol);
}

TEST(GroupNormSilu, Gradient) {
  auto f = [](int G) {
    return [G](const std::vector<Tensor>& in) { return group_norm_silu(in[0], G, in[1], in[2]); };
  };
  for (int G : {1, 2, 4})
    EXPECT_TRUE(grad_ok(gradcheck("group_norm_silu", f(G),
                                  {param({2, 4, 3, 3}, 10 + G), param({4}, 20 + G),
                                   param({4}, 30 + G)})))
        << "G = " << G;
  EXPECT_TRUE(grad_ok(gradcheck(
      "group_norm_silu",
      [](const std::vector<Tensor>& in) { return group_norm_silu(in[0], 2, Tensor(), Tensor()); },
      {param({2, 4, 2, 3}, 40)})));
  // Rank 3; bias fixed (needs no gradient, still shifts pre).
  EXPECT_TRUE(grad_ok(gradcheck("group_norm_silu", f(3),
                                {param({2, 6, 4}, 41), param({6}, 42), randn({6}, 43)})));
  // x alone requires grad (the Silu backward still needs its scratch for gp).
  EXPECT_TRUE(grad_ok(gradcheck("group_norm_silu", f(2),
                                {param({2, 4, 5}, 44), randn({4}, 45), randn({4}, 46)})));
  // Only the parameters require grad: dx is not formed.
  EXPECT_TRUE(grad_ok(gradcheck("group_norm_silu", f(2),
                                {randn({2, 4, 5}, 47), param({4}, 48), param({4}, 49)})));
  // Non-contiguous x: [B, C, H, W] permuted from a channels-last [B, H, W, C] leaf.
  Tensor xp;
  {
    NoGradGuard ng;
    xp = randn({2, 3, 2, 4}, 50).permute({0, 3, 1, 2});
  }
  xp.requires_grad_();
  EXPECT_FALSE(xp.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("group_norm_silu", f(2), {xp, param({4}, 51), param({4}, 52)})));
}

TEST(GroupNormSilu, SameBitsForAnyThreadCountAndRun) {
  Case k;
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    const Outputs r = run_op(fused, k.x, k.w, k.b, k.dout);
    omp_set_num_threads(saved);
    std::vector<float> all = r.y;
    for (const std::vector<float>* v : {&r.dx, &r.dw, &r.db}) all.insert(all.end(), v->begin(), v->end());
    return all;
  };
  const std::vector<float> one = run(1);
  EXPECT_EQ(one, run(2));
  EXPECT_EQ(one, run(1));
}

TEST(GroupNormSilu, Errors) {
  test::expect_error([] { group_norm_silu(zeros({2, 6, 4, 4}), 4, Tensor(), Tensor()); },
                     {"group_norm_silu", "C = 6", "G = 4", "[2, 6, 4, 4]"});
  test::expect_error([] { group_norm_silu(zeros({2, 6, 4, 4}), 2, zeros({5}), Tensor()); },
                     {"group_norm_silu", "weight", "[5]", "[6]"});
  test::expect_error([] { group_norm_silu(zeros({6}), 1, Tensor(), Tensor()); },
                     {"group_norm_silu", "[6]"});
}

}  // namespace
}  // namespace mindiff
