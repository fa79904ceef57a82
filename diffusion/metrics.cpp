// Two-sample distances for testing samplers against exact samples (rows of [N, D] tensors).
// All sums are in double; pairwise loops are threaded over the rows of the first set with one
// partial sum per row, added up serially afterwards, so results do not depend on the thread count.
#include "diffusion/metrics.h"

#include <algorithm>
#include <cmath>

#include "tensor/ops/common.h"

namespace mindiff::diffusion {

namespace {

// Rows of a [N, ...] tensor as N contiguous rows of D floats.
struct Rows {
  Tensor data;  // contiguous
  int64_t n, d;
  const float* row(int64_t i) const { return data.data() + i * d; }
};

Rows as_rows(const Tensor& x, const char* what, const char* which) {
  require_cpu(what, {x});
  MD_CHECK(x.ndim() >= 2 && x.size(0) >= 1, what, ": ", which, " must be [N, D] with N >= 1, got ",
           x.shape().str());
  Tensor c = x.detach().contiguous();
  return {c, x.size(0), x.numel() / x.size(0)};
}

void check_same_dim(const Rows& x, const Rows& y, const char* what, const Tensor& xt,
                    const Tensor& yt) {
  MD_CHECK(x.d == y.d, what, ": rows of ", xt.shape().str(), " and ", yt.shape().str(),
           " have different sizes (", x.d, " and ", y.d, ")");
}

double squared_distance(const float* a, const float* b, int64_t d) {
  double acc = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double diff = static_cast<double>(a[j]) - b[j];
    acc += diff * diff;
  }
  return acc;
}

// sum_{i, j} k(|x_i - y_j|^2) over all pairs (i == j included when x and y are the same set;
// the caller removes the diagonal if it must).
template <class Kernel>
double pair_sum(const Rows& x, const Rows& y, Kernel kernel) {
  std::vector<double> partial(x.n);
#pragma omp parallel for schedule(static) if (x.n * y.n * x.d >= 65536)
  for (int64_t i = 0; i < x.n; ++i) {
    double acc = 0;
    for (int64_t j = 0; j < y.n; ++j) acc += kernel(squared_distance(x.row(i), y.row(j), x.d));
    partial[i] = acc;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

// V-statistic: every mean runs over all ordered pairs, the zero diagonal included, which makes
// the estimate >= 0 exactly and equal to 2 for the 1-D points {0} and {1}.
double energy_distance(const Tensor& xt, const Tensor& yt) {
  const Rows x = as_rows(xt, "energy_distance", "x"), y = as_rows(yt, "energy_distance", "y");
  check_same_dim(x, y, "energy_distance", xt, yt);
  auto dist = [](double d2) { return std::sqrt(d2); };
  const double xy = pair_sum(x, y, dist) / (static_cast<double>(x.n) * y.n);
  const double xx = pair_sum(x, x, dist) / (static_cast<double>(x.n) * x.n);
  const double yy = pair_sum(y, y, dist) / (static_cast<double>(y.n) * y.n);
  return 2 * xy - xx - yy;
}

// MMD^2_u = 1/(N(N-1)) sum_{i != i'} k(x_i, x_i') + 1/(M(M-1)) sum_{j != j'} k(y_j, y_j')
//           - 2/(NM) sum_{i, j} k(x_i, y_j)        (Gretton et al. 2012, eq. 3)
// k(a, b) = exp(-|a - b|^2 / (2 h^2)), h = median distance over distinct pooled pairs. For
// pooled sets above 4096 rows, the median is taken over an evenly strided subset of 4096 rows,
// which keeps its memory at 8M floats; the MMD sums themselves always use every row.
double mmd_rbf(const Tensor& xt, const Tensor& yt) {
  const Rows x = as_rows(xt, "mmd_rbf", "x"), y = as_rows(yt, "mmd_rbf", "y");
  check_same_dim(x, y, "mmd_rbf", xt, yt);
  MD_CHECK(x.n >= 2 && y.n >= 2, "mmd_rbf: the unbiased estimate needs at least 2 rows in each set, got ",
           xt.shape().str(), " and ", yt.shape().str());
  const int64_t pooled = x.n + y.n, kMaxMedianRows = 4096;
  const int64_t m = std::min(pooled, kMaxMedianRows);
  std::vector<const float*> sub(m);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = i * pooled / m;  // evenly strided over the pooled rows
    sub[i] = p < x.n ? x.row(p) : y.row(p - x.n);
  }
  std::vector<float> d2(static_cast<size_t>(m * (m - 1) / 2));
#pragma omp parallel for schedule(static) if (m >= 256)
  for (int64_t i = 0; i < m; ++i) {
    // Pairs (i, j > i) start at index i m - i(i+1)/2 of the upper triangle.
    size_t at = static_cast<size_t>(i * m - i * (i + 1) / 2);
    for (int64_t j = i + 1; j < m; ++j) d2[at++] = static_cast<float>(squared_distance(sub[i], sub[j], x.d));
  }
  const size_t mid = d2.size() / 2;
  std::nth_element(d2.begin(), d2.begin() + mid, d2.end());
  const double h2 = d2[mid];  // median squared distance = squared median distance
  MD_CHECK(h2 > 0, "mmd_rbf: the median pairwise distance is 0 (more than half the rows coincide)");
  auto kernel = [h2](double s) { return std::exp(-s / (2 * h2)); };
  // k(a, a) = 1 on the diagonal: subtract n to get the sum over distinct pairs.
  const double kxx = (pair_sum(x, x, kernel) - x.n) / (static_cast<double>(x.n) * (x.n - 1));
  const double kyy = (pair_sum(y, y, kernel) - y.n) / (static_cast<double>(y.n) * (y.n - 1));
  const double kxy = pair_sum(x, y, kernel) / (static_cast<double>(x.n) * y.n);
  return kxx + kyy - 2 * kxy;
}

std::vector<double> mode_weights(const Tensor& x, const GaussianMixture& mixture) {
  const std::vector<int64_t> k = mixture.assign(x);
  std::vector<double> w(mixture.weights.size(), 0.0);
  for (int64_t c : k) w[c] += 1.0;
  for (double& v : w) v /= std::max<double>(1.0, static_cast<double>(k.size()));
  return w;
}

}  // namespace mindiff::diffusion
