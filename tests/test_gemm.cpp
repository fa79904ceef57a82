// sgemm (packed, blocked, threaded) against sgemm_reference (triple loop) on many shapes,
// transposes, leading dimensions and alpha/beta; plus hand-derived values and determinism.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/ops/gemm.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

// Both versions sum K float products in float, in different groupings. Each one's error is at
// most ~K * eps * sum_p |A[i,p] B[p,j]| (the standard bound for a length-K dot product), plus one
// rounding each for the alpha and beta terms, so their difference is at most twice that.
constexpr double kErrorBoundFactor = 2.0;

struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad = 0;  // extra elements per row of A, B and C (leading dimensions > extents)
};

std::vector<float> random_vector(int64_t n, uint64_t seed) {
  return n > 0 ? randn({n}, seed).to_vector() : std::vector<float>();
}

// Runs sgemm and sgemm_reference on the same data and checks every element against the bound.
void check_problem(const Problem& p, uint64_t seed) {
  const int64_t a_rows = p.ta ? p.k : p.m, a_cols = p.ta ? p.m : p.k;
  const int64_t b_rows = p.tb ? p.n : p.k, b_cols = p.tb ? p.k : p.n;
  const int64_t lda = a_cols + p.pad, ldb = b_cols + p.pad, ldc = p.n + p.pad;
  std::vector<float> a = random_vector(a_rows * lda, seed);
  std::vector<float> b = random_vector(b_rows * ldb, seed + 1);
  std::vector<float> c0 = random_vector(p.m * ldc, seed + 2);
  if (p.beta == 0.0f)  // C must not be read: NaN there would leak into the result
    for (float& v : c0) v = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> fast = c0, ref = c0;
  sgemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, a.data(), lda, b.data(), ldb, p.beta, fast.data(),
        ldc);
  sgemm_reference(p.ta, p.tb, p.m, p.n, p.k, p.alpha, a.data(), lda, b.data(), ldb, p.beta,
                  ref.data(), ldc);
  const double eps = std::numeric_limits<float>::epsilon();
  int failures = 0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double mag = 0.0;  // sum_p |op(A)[i,p] op(B)[p,j]|
      for (int64_t q = 0; q < p.k; ++q) {
        double av = p.ta ? a[q * lda + i] : a[i * lda + q];
        double bv = p.tb ? b[j * ldb + q] : b[q * ldb + j];
        mag += std::fabs(av * bv);
      }
      double c_term = p.beta == 0.0f ? 0.0 : std::fabs(p.beta * c0[i * ldc + j]);
      double tol = kErrorBoundFactor * (p.k + 2) * eps * (std::fabs(p.alpha) * mag + c_term);
      float got = fast[i * ldc + j], want = ref[i * ldc + j];
      if (!(std::fabs(got - want) <= tol) && failures++ < 5)
        ADD_FAILURE() << "ta=" << p.ta << " tb=" << p.tb << " m=" << p.m << " n=" << p.n
                      << " k=" << p.k << " alpha=" << p.alpha << " beta=" << p.beta
                      << " pad=" << p.pad << ": C[" << i << "," << j << "] = " << got
                      << ", reference " << want << ", tolerance " << tol;
    }
  // Padding between rows of C is outside the product and must be left alone.
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = p.n; j < ldc; ++j)
      if (!(fast[i * ldc + j] == c0[i * ldc + j] ||
            (std::isnan(fast[i * ldc + j]) && std::isnan(c0[i * ldc + j]))))
        ADD_FAILURE() << "padding C[" << i << "," << j << "] was overwritten";
}

TEST(Gemm, MatchesReferenceOnManyShapes) {
  // Odd sizes hit every edge path: partial 6-row and 16-column tiles, K not a multiple of the
  // K block (256), several K blocks, single rows and columns.
  const int64_t shapes[][3] = {{1, 1, 1},    {7, 13, 5},    {65, 33, 129}, {6, 16, 256},
                               {12, 32, 257}, {100, 1, 50},  {1, 100, 50}, {5, 17, 600},
                               {130, 70, 300}, {37, 129, 1}, {2, 3, 0}};
  uint64_t seed = 100;
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      check_problem({(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], 1.0f, 0.0f}, seed += 3);
}

TEST(Gemm, AlphaBetaAndLeadingDimensions) {
  uint64_t seed = 500;
  const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -1.5f}, {-2.0f, 0.0f}, {0.0f, 0.75f}};
  for (const auto& x : ab)
    for (int t = 0; t < 4; ++t) {
      check_problem({(t & 1) != 0, (t & 2) != 0, 23, 41, 70, x[0], x[1]}, seed += 3);
      check_problem({(t & 1) != 0, (t & 2) != 0, 23, 41, 70, x[0], x[1], 5}, seed += 3);
    }
  // K == 0: C = beta * C.
  check_problem({false, false, 4, 5, 0, 1.0f, 2.0f}, seed += 3);
  check_problem({false, false, 4, 5, 0, 1.0f, 0.0f}, seed += 3);
}

TEST(Gemm, HandDerivedValues) {
  // [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [1*7+2*9+3*11, 1*8+2*10+3*12; ...] = [58 64; 139 154].
  // With alpha = 2, beta = -1 and C = [1 1; 1 1]: 2*[58 64; 139 154] - 1 = [115 127; 277 307].
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12}, c = {1, 1, 1, 1};
  sgemm(false, false, 2, 2, 3, 2.0f, a.data(), 3, b.data(), 2, -1.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{115, 127, 277, 307}));
  // The same product from A stored transposed (3 x 2) and B stored transposed (2 x 3).
  std::vector<float> at = {1, 4, 2, 5, 3, 6}, bt = {7, 9, 11, 8, 10, 12}, d(4, 0.0f);
  sgemm(true, true, 2, 2, 3, 1.0f, at.data(), 2, bt.data(), 3, 0.0f, d.data(), 2);
  EXPECT_EQ(d, (std::vector<float>{58, 64, 139, 154}));
}

TEST(Gemm, BitwiseIdenticalAcrossThreadCounts) {
  // Large enough to take the threaded path; odd extents so edge tiles fall on thread borders.
  const int64_t m = 203, n = 317, k = 555;
  std::vector<float> a = random_vector(m * k, 1), b = random_vector(k * n, 2);
  std::vector<float> c1(m * n), c3(m * n);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  sgemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c1.data(), n);
  omp_set_num_threads(3);
  sgemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c3.data(), n);
  omp_set_num_threads(saved);
  EXPECT_EQ(c1, c3);
  // And from inside a parallel region (runs on the calling thread only): same bits again.
  std::vector<float> c_nested(m * n);
#pragma omp parallel num_threads(2)
  {
    if (omp_get_thread_num() == 1)
      sgemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c_nested.data(), n);
  }
  EXPECT_EQ(c1, c_nested);
}

TEST(Gemm, RowsDoNotDependOnTheNumberOfRows) {
  // Small products read B in place, large ones pack it; a row of C must come out the same
  // either way (and whatever tile it lands in), so the first 40 rows of a 100-row product equal
  // the 40-row product bit for bit.
  const int64_t n = 70, k = 300;
  std::vector<float> a = random_vector(100 * k, 5), b = random_vector(k * n, 6);
  std::vector<float> big(100 * n), small(40 * n);
  sgemm(false, false, 100, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, big.data(), n);
  sgemm(false, false, 40, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, small.data(), n);
  EXPECT_EQ(small, std::vector<float>(big.begin(), big.begin() + 40 * n));
}

TEST(Gemm, GatheredMatricesMatchTheSameMatricesStoredPlainly) {
  // sgemm_gather reads stored element (r, q) at pool + rows[r] + cols[q]. Offsets here are
  // scattered and overlapping (elements are shared, as the shifted rows of a convolution share
  // them); the result must equal, bit for bit, sgemm on plain copies of those matrices, for every
  // transpose, with row tables, column tables, both or neither on each operand, for products
  // that read operands in place (few rows or columns) and products that pack them, with edges.
  const int64_t shapes[][3] = {{32, 70, 288}, {7, 33, 19}, {64, 45, 300}, {13, 16, 600},
                               {130, 50, 40}};
  constexpr int64_t kPool = 6000, kColSpan = 700;  // row offsets < kPool - kColSpan
  std::vector<float> pool = random_vector(kPool, 40);
  uint64_t state = 12345;
  auto next = [&](int64_t below) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(below));
  };
  // A stored matrix of `rows` x `cols` with or without each table, and its plain copy.
  struct Operand {
    std::vector<int64_t> row_off, col_off;
    std::vector<float> plain;
    GemmMatrix gathered;
  };
  auto make = [&](int64_t rows, int64_t cols, bool row_table, bool col_table) {
    Operand o;
    o.plain.resize(rows * cols);
    if (!row_table && !col_table) {  // a plain array of its own
      for (float& v : o.plain) v = pool[next(kPool)];
      o.gathered = {o.plain.data(), cols};
      return o;
    }
    // Without a row table, rows 7 floats apart in the pool (overlapping, within bounds).
    const int64_t ld = row_table ? 0 : 7;
    for (int64_t r = 0; r < rows; ++r)
      o.row_off.push_back(row_table ? next(kPool - kColSpan) : r * ld);
    for (int64_t q = 0; q < cols; ++q) o.col_off.push_back(col_table ? next(kColSpan) : q);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < cols; ++q) o.plain[r * cols + q] = pool[o.row_off[r] + o.col_off[q]];
    o.gathered = {pool.data(), ld, row_table ? o.row_off.data() : nullptr,
                  col_table ? o.col_off.data() : nullptr};
    return o;
  };
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (int tables = 0; tables < 16; tables += 3) {  // 0, 3, 6, 9, 12, 15: mixed choices
        const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
        const int64_t m = s[0], n = s[1], k = s[2];
        Operand a = make(ta ? k : m, ta ? m : k, tables & 1, tables & 2);
        Operand b = make(tb ? n : k, tb ? k : n, tables & 4, tables & 8);
        std::vector<float> want(m * n), got(m * n);
        sgemm(ta, tb, m, n, k, 1.0f, a.plain.data(), ta ? m : k, b.plain.data(), tb ? k : n,
              0.0f, want.data(), n);
        sgemm_gather(ta, tb, m, n, k, 1.0f, a.gathered, b.gathered, 0.0f, got.data(), n);
        EXPECT_EQ(got, want) << "m=" << m << " n=" << n << " k=" << k << " ta=" << ta
                             << " tb=" << tb << " tables=" << tables;
      }
}

}  // namespace
}  // namespace mindiff
