#include "diffusion/linalg.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace mindiff::diffusion {

namespace {

// Sum of squares of the off-diagonal entries, and of all entries.
void norms(const std::vector<double>& a, int64_t n, double& off, double& total) {
  off = 0;
  total = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double v = a[i * n + j] * a[i * n + j];
      total += v;
      if (i != j) off += v;
    }
}

// One Jacobi rotation in the (p, q) plane, chosen so that the new a(p, q) is zero.
// With theta = (a_qq - a_pp) / (2 a_pq), t = tan(angle) is the smaller root of
// t^2 + 2 theta t - 1 = 0, c = 1 / sqrt(1 + t^2), s = t c; the rotation J has J_pp = J_qq = c,
// J_pq = s, J_qp = -s, and A <- J^T A J, V <- V J.
void rotate(std::vector<double>& a, std::vector<double>& v, int64_t n, int64_t p, int64_t q) {
  const double apq = a[p * n + q];
  const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
  const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
  const double c = 1 / std::sqrt(t * t + 1), s = t * c;
  for (int64_t k = 0; k < n; ++k) {  // columns p and q: A J
    const double akp = a[k * n + p], akq = a[k * n + q];
    a[k * n + p] = c * akp - s * akq;
    a[k * n + q] = s * akp + c * akq;
  }
  for (int64_t k = 0; k < n; ++k) {  // rows p and q: J^T (A J)
    const double apk = a[p * n + k], aqk = a[q * n + k];
    a[p * n + k] = c * apk - s * aqk;
    a[q * n + k] = s * apk + c * aqk;
  }
  a[p * n + q] = a[q * n + p] = 0.0;  // zero by construction; drop the rounding residue
  for (int64_t k = 0; k < n; ++k) {
    const double vkp = v[k * n + p], vkq = v[k * n + q];
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

}  // namespace

SymmetricEigen symmetric_eigen(const std::vector<double>& a_in, int64_t n) {
  MD_CHECK(n >= 1 && static_cast<int64_t>(a_in.size()) == n * n, "symmetric_eigen: expected ", n,
           " x ", n, " = ", n * n, " values, got ", a_in.size());
  for (double x : a_in) MD_CHECK(std::isfinite(x), "symmetric_eigen: the matrix has a non-finite entry");
  std::vector<double> a(n * n), v(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    v[i * n + i] = 1.0;
    for (int64_t j = 0; j < n; ++j) a[i * n + j] = 0.5 * (a_in[i * n + j] + a_in[j * n + i]);
  }
  // Converged when the off-diagonal part is below double rounding of the whole matrix:
  // off(A) <= (4 eps)^2 |A|_F^2. Cyclic Jacobi converges quadratically, typically in 6 to 10
  // sweeps at n = 128; the cap only guards against a logic error.
  const double kTolerance = 16 * 4.9e-32;  // (4 * 2.2e-16)^2
  const int kMaxSweeps = 100;
  SymmetricEigen out;
  double off = 0, total = 0;
  norms(a, n, off, total);
  while (off > kTolerance * total) {
    MD_CHECK(out.sweeps < kMaxSweeps, "symmetric_eigen: no convergence after ", kMaxSweeps, " sweeps");
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q)
        if (a[p * n + q] != 0.0) rotate(a, v, n, p, q);
    ++out.sweeps;
    norms(a, n, off, total);
  }
  // Ascending order, vectors permuted with their values.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t i, int64_t j) { return a[i * n + i] < a[j * n + j]; });
  out.values.resize(n);
  out.vectors.resize(n * n);
  for (int64_t k = 0; k < n; ++k) {
    out.values[k] = a[order[k] * n + order[k]];
    for (int64_t i = 0; i < n; ++i) out.vectors[i * n + k] = v[i * n + order[k]];
  }
  return out;
}

std::vector<double> sqrt_psd(const std::vector<double>& a, int64_t n) {
  const SymmetricEigen e = symmetric_eigen(a, n);
  std::vector<double> root(n);
  for (int64_t k = 0; k < n; ++k) root[k] = std::sqrt(std::max(e.values[k], 0.0));
  std::vector<double> out(n * n, 0.0);  // sum_k root_k v_k v_k^T
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += e.vectors[i * n + k] * root[k] * e.vectors[j * n + k];
      out[i * n + j] = acc;
    }
  return out;
}

std::vector<double> matmul_square(const std::vector<double>& a, const std::vector<double>& b,
                                  int64_t n) {
  MD_CHECK(static_cast<int64_t>(a.size()) == n * n && static_cast<int64_t>(b.size()) == n * n,
           "matmul_square: expected two ", n, " x ", n, " matrices");
  std::vector<double> c(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const double aik = a[i * n + k];
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += aik * b[k * n + j];
    }
  return c;
}

}  // namespace mindiff::diffusion
