#include "diffusion/frechet.h"

#include <algorithm>
#include <cmath>

#include "diffusion/linalg.h"
#include "tensor/error.h"

namespace mindiff::diffusion {

GaussianStats gaussian_stats(const Tensor& features) {
  MD_CHECK(features.ndim() == 2 && features.size(0) >= 2, "gaussian_stats: features must be [N, D] "
           "with N >= 2, got ", features.shape().str());
  const std::vector<float> x = features.to_vector();  // row-major, contiguous
  GaussianStats s;
  s.count = features.size(0);
  s.dim = features.size(1);
  const int64_t n = s.count, d = s.dim;
  for (int64_t i = 0; i < n * d; ++i)
    MD_CHECK(std::isfinite(x[i]), "gaussian_stats: feature ", i % d, " of row ", i / d,
             " is not finite (", x[i], ")");
  s.mean.assign(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) s.mean[j] += x[i * d + j];
  for (double& m : s.mean) m /= static_cast<double>(n);
  s.cov.assign(d * d, 0.0);
  std::vector<double> centred(d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) centred[j] = x[i * d + j] - s.mean[j];
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = j; k < d; ++k) s.cov[j * d + k] += centred[j] * centred[k];
  }
  for (int64_t j = 0; j < d; ++j)
    for (int64_t k = j; k < d; ++k) {
      s.cov[j * d + k] /= static_cast<double>(n - 1);
      s.cov[k * d + j] = s.cov[j * d + k];
    }
  return s;
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  MD_CHECK(a.dim == b.dim && a.dim > 0, "frechet_distance: dimensions differ (", a.dim, " and ",
           b.dim, ")");
  const int64_t d = a.dim;
  double mean_term = 0;
  for (int64_t j = 0; j < d; ++j) mean_term += (a.mean[j] - b.mean[j]) * (a.mean[j] - b.mean[j]);
  double trace = 0;
  for (int64_t j = 0; j < d; ++j) trace += a.cov[j * d + j] + b.cov[j * d + j];
  // tr (S_a^{1/2} S_b S_a^{1/2})^{1/2} = sum_k sqrt(lambda_k), the lambda_k >= 0 up to rounding.
  const std::vector<double> root_a = sqrt_psd(a.cov, d);
  const std::vector<double> m = matmul_square(matmul_square(root_a, b.cov, d), root_a, d);
  double cross = 0;
  for (double lambda : symmetric_eigen(m, d).values) cross += std::sqrt(std::max(lambda, 0.0));
  return std::max(0.0, mean_term + trace - 2 * cross);
}

}  // namespace mindiff::diffusion
