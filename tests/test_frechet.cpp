// The symmetric eigendecomposition, the PSD square root and the Frechet distance: a hand-solved
// 2 x 2 case, reconstruction and orthonormality, known spectra, roots that square back, FD in
// closed form for commuting and non-commuting covariances, FD of identical sets, and FD of
// samples from two Gaussians that differ only in the mean.
#include <cmath>

#include "diffusion/frechet.h"
#include "diffusion/linalg.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using diffusion::frechet_distance;
using diffusion::GaussianStats;
using diffusion::gaussian_stats;
using diffusion::matmul_square;
using diffusion::sqrt_psd;
using diffusion::symmetric_eigen;
using Matrix = std::vector<double>;

// Double-precision work on O(1) entries: rounding errors of O(n) eps per entry after O(n^3)
// operations stay far below 1e-10 for n <= 128; 1e-10 still fails any real bug by many orders.
constexpr double kMatrixTolerance = 1e-10;

Matrix transpose(const Matrix& a, int64_t n) {
  Matrix t(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) t[j * n + i] = a[i * n + j];
  return t;
}

Matrix identity(int64_t n) {
  Matrix m(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) m[i * n + i] = 1.0;
  return m;
}

// A random symmetric matrix with N(0, 1) entries, from `seed`.
Matrix random_symmetric(int64_t n, uint64_t seed) {
  const std::vector<float> r = randn(Shape({n, n}), seed).to_vector();
  Matrix a(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[i * n + j] = 0.5 * (r[i * n + j] + r[j * n + i]);
  return a;
}

// B B^T / n for a random n x r matrix B: positive semi-definite of rank min(r, n).
Matrix random_psd(int64_t n, int64_t rank, uint64_t seed) {
  const std::vector<float> b = randn(Shape({n, rank}), seed).to_vector();
  Matrix a(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < rank; ++k) a[i * n + j] += double(b[i * rank + k]) * b[j * rank + k] / n;
  return a;
}

// An orthogonal matrix from Householder reflections I - 2 v v^T / |v|^2 of random vectors:
// built without the eigensolver, so spectra put in with it are known independently.
Matrix random_orthogonal(int64_t n, uint64_t seed) {
  Matrix q = identity(n);
  for (int r = 0; r < 3; ++r) {
    const std::vector<float> v = randn(Shape({n}), seed * 7 + r).to_vector();
    double norm2 = 0;
    for (float x : v) norm2 += double(x) * x;
    Matrix h = identity(n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) h[i * n + j] -= 2.0 * v[i] * v[j] / norm2;
    q = matmul_square(q, h, n);
  }
  return q;
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

GaussianStats stats(const Matrix& mean, const Matrix& cov) {
  GaussianStats s;
  s.dim = static_cast<int64_t>(mean.size());
  s.count = 1000;  // not used by the distance
  s.mean = mean;
  s.cov = cov;
  return s;
}

TEST(SymmetricEigen, HandSolvedTwoByTwo) {
  // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2.
  const auto e = symmetric_eigen({2, 1, 1, 2}, 2);
  EXPECT_NEAR(e.values[0], 1.0, kMatrixTolerance);
  EXPECT_NEAR(e.values[1], 3.0, kMatrixTolerance);
  const double r = 1 / std::sqrt(2.0);
  EXPECT_NEAR(std::fabs(e.vectors[0 * 2 + 1]), r, kMatrixTolerance);  // column 1: (1, 1) / sqrt 2
  EXPECT_NEAR(e.vectors[0 * 2 + 1] * e.vectors[1 * 2 + 1], 0.5, kMatrixTolerance);
  EXPECT_NEAR(e.vectors[0 * 2 + 0] * e.vectors[1 * 2 + 0], -0.5, kMatrixTolerance);
}

TEST(SymmetricEigen, ReconstructsWithOrthonormalVectors) {
  for (int64_t n : {1, 5, 40, 128}) {
    const Matrix a = random_symmetric(n, 10 + n);
    const auto e = symmetric_eigen(a, n);
    // V diag(lambda) V^T == A
    Matrix vl = e.vectors;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < n; ++k) vl[i * n + k] *= e.values[k];
    EXPECT_LT(max_abs_diff(matmul_square(vl, transpose(e.vectors, n), n), a), kMatrixTolerance) << n;
    // V^T V == I
    EXPECT_LT(max_abs_diff(matmul_square(transpose(e.vectors, n), e.vectors, n), identity(n)),
              kMatrixTolerance) << n;
    for (int64_t k = 1; k < n; ++k) EXPECT_LE(e.values[k - 1], e.values[k]);
  }
}

TEST(SymmetricEigen, FindsAKnownSpectrum) {
  // Q diag(d) Q^T with Q from reflections: the eigenvalues must be d, sorted, including a
  // repeated value and a zero.
  const int64_t n = 30;
  Matrix d(n);
  for (int64_t i = 0; i < n; ++i) d[i] = (i % 3 == 0) ? 2.5 : 0.1 * i - 1.0;
  d[7] = 0.0;
  const Matrix q = random_orthogonal(n, 3);
  Matrix qd = q;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) qd[i * n + k] *= d[k];
  const auto e = symmetric_eigen(matmul_square(qd, transpose(q, n), n), n);
  std::sort(d.begin(), d.end());
  for (int64_t k = 0; k < n; ++k) EXPECT_NEAR(e.values[k], d[k], kMatrixTolerance) << k;
}

TEST(SymmetricEigen, RejectsBadInput) {
  test::expect_error([] { symmetric_eigen({1, 2, 3}, 2); }, {"2 x 2", "got 3"});
  test::expect_error([] { symmetric_eigen({1, NAN, NAN, 1}, 2); }, {"non-finite"});
}

TEST(SqrtPsd, SquaresBackToTheMatrix) {
  for (int64_t rank : {64, 20}) {  // full rank, and singular (rank 20 of 64)
    const int64_t n = 64;
    const Matrix a = random_psd(n, rank, 5 + rank);
    const Matrix root = sqrt_psd(a, n);
    EXPECT_LT(max_abs_diff(matmul_square(root, root, n), a), kMatrixTolerance) << rank;
    EXPECT_LT(max_abs_diff(root, transpose(root, n)), kMatrixTolerance) << rank;
  }
  // The root of a diagonal matrix is the root of each entry.
  const Matrix root = sqrt_psd({4, 0, 0, 0, 9, 0, 0, 0, 0.25}, 3);
  EXPECT_LT(max_abs_diff(root, {2, 0, 0, 0, 3, 0, 0, 0, 0.5}), kMatrixTolerance);
}

TEST(FrechetDistance, DiagonalCovariancesInClosedForm) {
  // Commuting (diagonal) covariances: FD = |mu_1 - mu_2|^2 + sum_i (sqrt a_i - sqrt b_i)^2.
  const Matrix a = {1.0, 4.0, 0.25, 9.0}, b = {2.0, 1.0, 0.25, 0.0};
  const Matrix mu1 = {0.0, 1.0, -2.0, 0.5}, mu2 = {1.0, 1.0, 0.0, 0.5};
  Matrix sa(16, 0.0), sb(16, 0.0);
  double want = 1.0 + 4.0;  // |dmu|^2
  for (int i = 0; i < 4; ++i) {
    sa[i * 4 + i] = a[i];
    sb[i * 4 + i] = b[i];
    want += (std::sqrt(a[i]) - std::sqrt(b[i])) * (std::sqrt(a[i]) - std::sqrt(b[i]));
  }
  EXPECT_NEAR(frechet_distance(stats(mu1, sa), stats(mu2, sb)), want, kMatrixTolerance);
}

// For 2 x 2 PSD matrices, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) (the eigenvalues' roots
// squared and summed), and M = S_1^{1/2} S_2 S_1^{1/2} has tr M = tr(S_1 S_2) and
// det M = det S_1 det S_2: an FD computed without any eigensolver.
double fd_2x2(const Matrix& mu1, const Matrix& s1, const Matrix& mu2, const Matrix& s2) {
  const double dmu = (mu1[0] - mu2[0]) * (mu1[0] - mu2[0]) + (mu1[1] - mu2[1]) * (mu1[1] - mu2[1]);
  const double tr12 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
  const double det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2];
  return dmu + s1[0] + s1[3] + s2[0] + s2[3] - 2 * std::sqrt(tr12 + 2 * std::sqrt(det1 * det2));
}

TEST(FrechetDistance, NonCommutingTwoByTwoMatchesTheClosedForm) {
  const Matrix s1 = {2.0, 0.8, 0.8, 1.0}, s2 = {0.5, -0.3, -0.3, 3.0};
  ASSERT_GT(std::fabs(matmul_square(s1, s2, 2)[1] - matmul_square(s2, s1, 2)[1]), 0.1)
      << "the test needs covariances that do not commute";
  const Matrix mu1 = {0.3, -1.0}, mu2 = {1.0, 0.5};
  const double want = fd_2x2(mu1, s1, mu2, s2);
  EXPECT_NEAR(frechet_distance(stats(mu1, s1), stats(mu2, s2)), want, kMatrixTolerance);
  // The distance is symmetric, although the computation takes the root of the first only.
  EXPECT_NEAR(frechet_distance(stats(mu2, s2), stats(mu1, s1)), want, kMatrixTolerance);
}

TEST(FrechetDistance, RotatedBlocksInHighDimension) {
  // 64 independent non-commuting 2 x 2 blocks (FD adds up over blocks), then everything rotated
  // by one orthogonal Q (FD is invariant under a common rotation): a 128-D case whose answer is
  // the sum of 2 x 2 closed forms.
  const int64_t n = 128;
  Matrix s1(n * n, 0.0), s2(n * n, 0.0), mu1(n), mu2(n);
  double want = 0;
  for (int64_t b = 0; b < n / 2; ++b) {
    const double t = 0.05 * b;
    const Matrix a1 = {1.0 + t, 0.4, 0.4, 0.5 + 0.5 * t}, a2 = {0.3 + t, -0.2, -0.2, 2.0 - 0.01 * b};
    const Matrix m1 = {0.1 * b, 0.0}, m2 = {0.0, 0.02 * b};
    want += fd_2x2(m1, a1, m2, a2);
    for (int i = 0; i < 2; ++i) {
      mu1[2 * b + i] = m1[i];
      mu2[2 * b + i] = m2[i];
      for (int j = 0; j < 2; ++j) {
        s1[(2 * b + i) * n + 2 * b + j] = a1[i * 2 + j];
        s2[(2 * b + i) * n + 2 * b + j] = a2[i * 2 + j];
      }
    }
  }
  const Matrix q = random_orthogonal(n, 11), qt = transpose(q, n);
  auto rotate_vector = [&](const Matrix& v) {
    Matrix out(n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) out[i] += q[i * n + j] * v[j];
    return out;
  };
  const double got = frechet_distance(
      stats(rotate_vector(mu1), matmul_square(matmul_square(q, s1, n), qt, n)),
      stats(rotate_vector(mu2), matmul_square(matmul_square(q, s2, n), qt, n)));
  // The answer is O(100): the same absolute rounding bound scaled by the answer's size.
  EXPECT_NEAR(got, want, kMatrixTolerance * want);
}

TEST(FrechetDistance, IdenticalSetsGiveZero) {
  // Well-conditioned (N = 2000 > D = 16) and singular (N = 50 < D = 128) sample covariances.
  // In the singular case the zero eigenvalues come out as +-eps |S| and their roots as
  // sqrt(eps |S|): with D of them, the trace root is off by up to D sqrt(eps) |S| ~ 2e-6 |S|.
  constexpr double kSingularTolerance = 1e-5;
  for (auto [n, d] : {std::pair<int64_t, int64_t>{2000, 16}, {50, 128}}) {
    const GaussianStats s = gaussian_stats(randn(Shape({n, d}), 3));
    double trace = 0;
    for (int64_t j = 0; j < d; ++j) trace += s.cov[j * d + j];
    const double tol = n > d ? kMatrixTolerance * trace : kSingularTolerance * trace;
    EXPECT_NEAR(frechet_distance(s, s), 0.0, tol) << n << " x " << d;
  }
}

TEST(FrechetDistance, SamplesDifferingInTheMeanApproachItsSquaredShift) {
  // X ~ N(mu, S), Y ~ N(mu', S) with S = L L^T non-diagonal, N = 50000 each, D = 4, and
  // |mu - mu'|^2 = 1. The FD estimate is |dmu|^2 plus sampling error: |m_x - m_y|^2 has standard
  // deviation 2 sqrt(dmu^T (2 S / N) dmu) <= 0.02 here (largest eigenvalue of S below 2.5), and
  // the covariance term's bias is O(D^2 / N) ~ 3e-4. 0.06 is three such deviations.
  constexpr double kSamplingTolerance = 0.06;
  const int64_t n = 50000, d = 4;
  const Matrix l = {1.0, 0, 0, 0, 0.5, 0.8, 0, 0, -0.3, 0.2, 1.1, 0, 0.1, 0.4, 0.0, 0.6};
  auto draw = [&](const Matrix& mu, uint64_t seed) {
    const std::vector<float> z = randn(Shape({n, d}), seed).to_vector();
    std::vector<float> x(n * d);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < d; ++r) {
        double acc = mu[r];
        for (int64_t c = 0; c <= r; ++c) acc += l[r * d + c] * z[i * d + c];
        x[i * d + r] = static_cast<float>(acc);
      }
    return gaussian_stats(from_data(x, Shape({n, d})));
  };
  const Matrix mu = {0.5, -1.0, 2.0, 0.0}, shifted = {0.5 + 0.6, -1.0, 2.0 - 0.8, 0.0};
  EXPECT_NEAR(frechet_distance(draw(mu, 1), draw(shifted, 2)), 1.0, kSamplingTolerance);
  // The same law twice: the distance falls to the sampling noise.
  EXPECT_LT(frechet_distance(draw(mu, 3), draw(mu, 4)), kSamplingTolerance);
}

TEST(GaussianStats, MeanAndUnbiasedCovarianceByHand) {
  // Rows (0, 0), (2, 0), (1, 3): mean (1, 1); deviations (-1, -1), (1, -1), (0, 2);
  // sums of products xx 2, xy 0, yy 6, divided by N - 1 = 2.
  const GaussianStats s = gaussian_stats(from_data({0, 0, 2, 0, 1, 3}, Shape({3, 2})));
  EXPECT_EQ(s.count, 3);
  EXPECT_NEAR(s.mean[0], 1.0, kMatrixTolerance);
  EXPECT_NEAR(s.mean[1], 1.0, kMatrixTolerance);
  EXPECT_LT(max_abs_diff(s.cov, {1.0, 0.0, 0.0, 3.0}), kMatrixTolerance);
}

TEST(GaussianStats, RejectsBadInput) {
  test::expect_error([] { gaussian_stats(from_data({1, 2}, Shape({1, 2}))); }, {"N >= 2", "[1, 2]"});
  test::expect_error([] { gaussian_stats(from_data({1, NAN, 2, 3}, Shape({2, 2}))); },
                     {"not finite", "row 0"});
  test::expect_error([] { frechet_distance(stats({0}, {1}), stats({0, 0}, {1, 0, 0, 1})); },
                     {"dimensions differ"});
}

}  // namespace
}  // namespace mindiff
