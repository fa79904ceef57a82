// Gaussian mixtures and their exact noised score (formulas in gmm.h).
//
// Shapes: x [B, ...] read as B rows of D = numel / B values; K components. Everything per row is
// computed in double: responsibilities r_k = softmax_k(l_k) with
//   l_k = log w_k - D/2 log(2 pi v_k) - |x - a mu_k|^2 / (2 v_k),   v_k = a^2 s_k^2 + s^2,
// shifted by max_k l_k before exponentiating (log-sum-exp), so rows far from every component
// (|x - a mu|^2 / v in the thousands) still get finite responsibilities.
//
// The score is differentiable in x (op "mixture_score"): its Jacobian is the Hessian of log p_t,
//   H = sum_k r_k (m_k m_k^T - I / v_k) - g g^T,   m_k = (a mu_k - x) / v_k,  g = sum_k r_k m_k,
// which is symmetric, so the backward is dx = H dout per row. The likelihood's divergence
// estimator differentiates the exact MixtureDenoiser through this.
#include "diffusion/gmm.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <omp.h>

#include "tensor/ops/common.h"

namespace mindiff::diffusion {

namespace {

const OpInfo kMixtureScore("mixture_score");

// What mixture_rows writes per row (null pointers are skipped).
struct RowOutputs {
  float* score = nullptr;           // [B, D] grad log p_t
  float* posterior_mean = nullptr;  // [B, D] E[x_0 | x_t]
  const float* hvp_in = nullptr;    // [B, D] u ...
  float* hvp_out = nullptr;         // [B, D] ... H u
  double* log_density = nullptr;    // [B]
  int64_t* argmax = nullptr;        // [B] component of highest responsibility
};

// a and s have length B or 1 (one value for all rows).
void mixture_rows(const GaussianMixture& m, const float* x, int64_t rows, int64_t dim,
                  const std::vector<double>& a, const std::vector<double>& s, const RowOutputs& o) {
  const int64_t k_count = static_cast<int64_t>(m.weights.size());
  const double log_2pi = std::log(2.0 * std::acos(-1.0));
  const int64_t work = rows * k_count * dim;
#pragma omp parallel if (work >= 32768)
  {
    // Per-thread scratch, allocated once outside the row loop.
    std::vector<double> l(k_count), v(k_count), c(k_count), g(o.hvp_out ? dim : 0);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < rows; ++b) {
      const float* xb = x + b * dim;
      const double ab = a.size() == 1 ? a[0] : a[b], sb = s.size() == 1 ? s[0] : s[b];
      double lmax = -INFINITY;
      int64_t kmax = 0;
      for (int64_t k = 0; k < k_count; ++k) {
        v[k] = ab * ab * m.stds[k] * m.stds[k] + sb * sb;
        const std::vector<double>& mu = m.means[k];
        double d2 = 0;
        for (int64_t j = 0; j < dim; ++j) {
          const double d = xb[j] - ab * mu[j];
          d2 += d * d;
        }
        l[k] = std::log(m.weights[k]) - 0.5 * dim * (log_2pi + std::log(v[k])) - 0.5 * d2 / v[k];
        if (l[k] > lmax) lmax = l[k], kmax = k;
      }
      double total = 0;
      for (int64_t k = 0; k < k_count; ++k) total += (l[k] = std::exp(l[k] - lmax));  // l -> r
      for (int64_t k = 0; k < k_count; ++k) l[k] /= total;
      const std::vector<double>& r = l;
      if (o.log_density) o.log_density[b] = lmax + std::log(total);
      if (o.argmax) o.argmax[b] = kmax;
      if (o.score) {
        // grad log p_t = sum_k r_k (a mu_k - x) / v_k
        for (int64_t j = 0; j < dim; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < k_count; ++k) acc += r[k] * (ab * m.means[k][j] - xb[j]) / v[k];
          o.score[b * dim + j] = static_cast<float>(acc);
        }
      }
      if (o.posterior_mean) {
        // sum_k r_k (mu_k + a s_k^2 (x - a mu_k) / v_k) = sum_k r_k (s^2 mu_k + a s_k^2 x) / v_k
        for (int64_t j = 0; j < dim; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < k_count; ++k)
            acc += r[k] * (sb * sb * m.means[k][j] + ab * m.stds[k] * m.stds[k] * xb[j]) / v[k];
          o.posterior_mean[b * dim + j] = static_cast<float>(acc);
        }
      }
      if (o.hvp_out) {
        // H u = sum_k r_k (m_k (m_k . u) - u / v_k) - g (g . u); c_k = m_k . u.
        const float* u = o.hvp_in + b * dim;
        std::fill(g.begin(), g.end(), 0.0);
        for (int64_t k = 0; k < k_count; ++k) {
          double mu_dot = 0;
          for (int64_t j = 0; j < dim; ++j) {
            const double mkj = (ab * m.means[k][j] - xb[j]) / v[k];
            mu_dot += mkj * u[j];
            g[j] += r[k] * mkj;
          }
          c[k] = mu_dot;
        }
        double gu = 0;
        for (int64_t j = 0; j < dim; ++j) gu += g[j] * u[j];
        for (int64_t j = 0; j < dim; ++j) {
          double acc = -g[j] * gu;
          for (int64_t k = 0; k < k_count; ++k) {
            const double mkj = (ab * m.means[k][j] - xb[j]) / v[k];
            acc += r[k] * (mkj * c[k] - u[j] / v[k]);
          }
          o.hvp_out[b * dim + j] = static_cast<float>(acc);
        }
      }
    }
  }
}

// Rows of x for the mixture: checks the rank, the row size against D and the a, s lengths.
int64_t checked_rows(const GaussianMixture& m, const Tensor& x, const char* what,
                     const std::vector<double>* a = nullptr, const std::vector<double>* s = nullptr) {
  m.validate();
  require_cpu(what, {x});
  MD_CHECK(x.ndim() >= 2, what, ": x must be [B, ...], got ", x.shape().str());
  const int64_t rows = x.size(0);
  MD_CHECK(rows == 0 || x.numel() / rows == m.dim(), what, ": rows of x ", x.shape().str(),
           " have ", rows ? x.numel() / rows : 0, " values but the mixture has D = ", m.dim());
  for (const std::vector<double>* p : {a, s}) {
    if (!p) continue;
    MD_CHECK(p->size() == 1 || static_cast<int64_t>(p->size()) == rows, what, ": ",
             p == a ? "a" : "s", " has ", p->size(), " values for a batch of ", rows,
             " (need 1 or ", rows, ")");
  }
  return rows;
}

}  // namespace

void GaussianMixture::validate() const {
  const size_t k = weights.size();
  MD_CHECK(k >= 1, "GaussianMixture: no components");
  MD_CHECK(means.size() == k && stds.size() == k, "GaussianMixture: ", k, " weights but ",
           means.size(), " means and ", stds.size(), " stds");
  double total = 0;
  for (size_t i = 0; i < k; ++i) {
    MD_CHECK(!means[i].empty() && means[i].size() == means[0].size(), "GaussianMixture: mean ", i,
             " has ", means[i].size(), " values, mean 0 has ", means[0].size());
    MD_CHECK(weights[i] > 0 && std::isfinite(weights[i]), "GaussianMixture: weight ", i, " = ",
             weights[i], " is not positive");
    MD_CHECK(stds[i] > 0 && std::isfinite(stds[i]), "GaussianMixture: std ", i, " = ", stds[i],
             " is not positive");
    for (double mu : means[i])
      MD_CHECK(std::isfinite(mu), "GaussianMixture: mean ", i, " is not finite");
    total += weights[i];
  }
  MD_CHECK(std::fabs(total - 1.0) <= 1e-6, "GaussianMixture: weights sum to ", total,
           ", not 1");
}

GaussianMixture GaussianMixture::ring8(double radius, double std) {
  GaussianMixture m;
  const double pi = std::acos(-1.0);
  for (int k = 0; k < 8; ++k) {
    m.weights.push_back(1.0 / 8);
    m.means.push_back({radius * std::cos(2 * pi * k / 8), radius * std::sin(2 * pi * k / 8)});
    m.stds.push_back(std);
  }
  m.validate();
  return m;
}

// Inverse-CDF draw of the component: u ~ U(0, 1], k = first index whose cumulative weight >= u.
std::vector<int64_t> GaussianMixture::sample_components(int64_t n, Generator& gen) const {
  validate();
  MD_CHECK(n >= 0, "GaussianMixture::sample_components: negative n ", n);
  std::vector<double> cum(weights.size());
  std::partial_sum(weights.begin(), weights.end(), cum.begin());
  std::vector<float> u = rand(Shape({n}), gen).to_vector();
  std::vector<int64_t> comp(n);
  for (int64_t i = 0; i < n; ++i) {
    const auto it = std::lower_bound(cum.begin(), cum.end(), static_cast<double>(u[i]));
    comp[i] = std::min<int64_t>(it - cum.begin(), static_cast<int64_t>(cum.size()) - 1);
  }
  return comp;
}

// x_i = mu_{k_i} + s_{k_i} z_i, z_i ~ N(0, I).
Tensor GaussianMixture::sample(int64_t n, Generator& gen) const {
  const std::vector<int64_t> comp = sample_components(n, gen);
  const int64_t d = dim();
  Tensor x = randn(Shape({n, d}), gen);
  float* p = x.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      p[i * d + j] = static_cast<float>(means[comp[i]][j] + stds[comp[i]] * p[i * d + j]);
  return x;
}

Tensor GaussianMixture::score(const Tensor& x, const std::vector<double>& a,
                              const std::vector<double>& s) const {
  const int64_t rows = checked_rows(*this, x, "mixture_score", &a, &s);
  Tensor xc = x.detach().contiguous();
  Tensor out = empty(x.shape());
  RowOutputs o;
  o.score = out.data();
  if (rows > 0) mixture_rows(*this, xc.data(), rows, dim(), a, s, o);
  if (needs_grad({x})) {
    record(kMixtureScore, out, {x}, [m = *this, xc, a, s, rows](const Tensor& dout) {
      Tensor u = dout.contiguous(), dx = empty(xc.shape());
      RowOutputs h;
      h.hvp_in = u.data();
      h.hvp_out = dx.data();
      if (rows > 0) mixture_rows(m, xc.data(), rows, m.dim(), a, s, h);
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor GaussianMixture::posterior_mean(const Tensor& x, const std::vector<double>& a,
                                       const std::vector<double>& s) const {
  const int64_t rows = checked_rows(*this, x, "mixture posterior_mean", &a, &s);
  Tensor xc = x.detach().contiguous(), out = empty(x.shape());
  RowOutputs o;
  o.posterior_mean = out.data();
  if (rows > 0) mixture_rows(*this, xc.data(), rows, dim(), a, s, o);
  return out;
}

std::vector<double> GaussianMixture::log_density(const Tensor& x, double a, double s) const {
  const int64_t rows = checked_rows(*this, x, "mixture log_density");
  Tensor xc = x.detach().contiguous();
  std::vector<double> out(rows);
  RowOutputs o;
  o.log_density = out.data();
  if (rows > 0) mixture_rows(*this, xc.data(), rows, dim(), {a}, {s}, o);
  return out;
}

std::vector<int64_t> GaussianMixture::assign(const Tensor& x) const {
  const int64_t rows = checked_rows(*this, x, "mixture assign");
  Tensor xc = x.detach().contiguous();
  std::vector<int64_t> out(rows);
  RowOutputs o;
  o.argmax = out.data();
  if (rows > 0) mixture_rows(*this, xc.data(), rows, dim(), {1.0}, {0.0}, o);
  return out;
}

MixtureDenoiser::MixtureDenoiser(GaussianMixture mixture, std::shared_ptr<const Process> process)
    : Denoiser(std::move(process)), mixture_(std::move(mixture)) {
  mixture_.validate();
}

// eps = -sigma(t) * grad log p_t(x): differentiable in x through the mixture_score op. The
// mixture's score is a host computation; x on the CUDA device goes there and back (so samplers
// can be run on the device against the exact score).
Tensor MixtureDenoiser::eps(const Tensor& x, const Tensor& t) const {
  MD_CHECK(t.ndim() == 1 && x.ndim() >= 1 && t.size(0) == x.size(0),
           "MixtureDenoiser: times ", t.shape().str(), " do not match the batch of x ",
           x.shape().str());
  const std::vector<float> times = t.to_vector();
  std::vector<double> a(times.size()), s(times.size());
  for (size_t b = 0; b < times.size(); ++b) {
    a[b] = process().alpha(times[b]);
    s[b] = process().sigma(times[b]);
  }
  const Tensor score = mixture_.score(x.to(Device::CPU), a, s).to(x.device());
  return score_to_eps(score, per_sample(t, x, &Process::sigma, process()));
}

// log p_t(x) = log of the mixture sum_k w_k N(x; alpha mu_k, (alpha^2 s_k^2 + sigma^2) I).
std::vector<double> MixtureDenoiser::log_density(const Tensor& x, double t) const {
  return mixture_.log_density(x.to(Device::CPU), process().alpha(t), process().sigma(t));
}

}  // namespace mindiff::diffusion
