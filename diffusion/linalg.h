// Small dense symmetric matrices in double precision, for the Frechet distance
// (diffusion/frechet.h): a symmetric eigendecomposition and the square root of a positive
// semi-definite matrix. Sizes are the feature dimension (128), so plain O(n^3) loops suffice.
//
// Storage: an n x n matrix is a std::vector<double> of n * n values in row-major order,
// a(i, j) = a[i * n + j].
//
// Eigendecomposition by the cyclic Jacobi method (Golub & Van Loan, "Matrix Computations",
// section 8.5): sweep over every off-diagonal pair (p, q) and apply the plane rotation J that
// zeroes a(p, q): A <- J^T A J, V <- V J. Each rotation lowers off(A)^2 = sum_{i != j} a(i, j)^2
// by 2 a(p, q)^2, and the sweeps converge quadratically; at the end A is diagonal (the
// eigenvalues) and V's columns are orthonormal eigenvectors: A_0 = V diag(lambda) V^T. Jacobi is
// chosen over tridiagonal QR for its simplicity and its small eigenvalues' high relative
// accuracy, which the square roots below need.
#pragma once
#include <cstdint>
#include <vector>

namespace mindiff::diffusion {

struct SymmetricEigen {
  std::vector<double> values;   // n eigenvalues, ascending
  std::vector<double> vectors;  // n x n, column k is the unit eigenvector of values[k]
  int sweeps = 0;               // Jacobi sweeps used
};

// Eigendecomposition of the symmetric n x n matrix `a` (only the symmetric part (A + A^T) / 2
// is used). Throws a mindiff::Error for a wrong size or a non-finite entry.
SymmetricEigen symmetric_eigen(const std::vector<double>& a, int64_t n);

// The symmetric square root V diag(sqrt(max(lambda, 0))) V^T of a positive semi-definite matrix.
// Eigenvalues below zero are rounding noise of a PSD matrix (a sample covariance with fewer
// samples than dimensions is singular) and are treated as 0.
std::vector<double> sqrt_psd(const std::vector<double>& a, int64_t n);

// C = A B for n x n matrices.
std::vector<double> matmul_square(const std::vector<double>& a, const std::vector<double>& b,
                                  int64_t n);

}  // namespace mindiff::diffusion
