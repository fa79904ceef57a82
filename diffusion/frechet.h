// The Frechet distance between two Gaussians fitted to feature sets (the measure behind FID,
// Heusel et al. 2017, here on the mindiff classifier's features instead of Inception's):
//
//   FD = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})
//
// which is the squared 2-Wasserstein distance between N(mu_1, S_1) and N(mu_2, S_2) (Dowson &
// Landau 1982). The symmetric form S_1^{1/2} S_2 S_1^{1/2} has the same eigenvalues as S_1 S_2
// and is positive semi-definite, so its trace root is sum_k sqrt(lambda_k) from a symmetric
// eigendecomposition (diffusion/linalg.h); everything is in double.
//
// The estimate from N samples is biased upwards (of order D / N for D features), so figures are
// only comparable at the same N: compare with a reference set of the same size.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff::diffusion {

struct GaussianStats {
  int64_t count = 0;        // N samples
  int64_t dim = 0;          // D
  std::vector<double> mean; // D
  std::vector<double> cov;  // D x D row-major, the unbiased sample covariance (divides by N - 1)
};

// Mean and covariance of the rows of features [N, D] (N >= 2), accumulated in double around the
// mean (two passes, so no cancellation). Throws a mindiff::Error naming a non-finite value.
GaussianStats gaussian_stats(const Tensor& features);

// FD between two fitted Gaussians of the same dimension (the formula above). The result is
// clamped at 0 (rounding can make an FD of identical sets a tiny negative number).
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

}  // namespace mindiff::diffusion
