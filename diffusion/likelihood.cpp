// Likelihoods: the probability-flow ODE with Hutchinson's trace estimator, and the DDPM
// variational bound (formulas, conventions and citations in likelihood.h).
//
// Shapes: x [B, ...], read as B rows of D = numel / B values. Per-sample sums are taken in double.
#include "diffusion/likelihood.h"

#include <algorithm>
#include <cmath>

#include "diffusion/noise.h"

namespace mindiff::diffusion {

namespace {

const double kLn2 = std::log(2.0);
const double kLog2Pi = std::log(2.0 * std::acos(-1.0));

int64_t row_size(const Tensor& x, const char* who) {
  MD_CHECK(x.defined() && x.ndim() >= 2 && x.size(0) > 0, who, ": x must be [B, ...] with B >= 1 ",
           "and a data axis, got ", x.defined() ? x.shape().str() : std::string("undefined"));
  return x.numel() / x.size(0);
}

// sum over each row of a * b, in double. a, b of the same shape [B, ...].
std::vector<double> row_dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  const int64_t rows = a.size(0), d = a.numel() / rows;
  std::vector<double> out(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) out[r] += static_cast<double>(av[r * d + j]) * bv[r * d + j];
  return out;
}

// The probe of one Hutchinson pass: standard normal, or its signs (Rademacher).
Tensor hutchinson_probe(const Shape& shape, const DivergenceOptions& o, int p) {
  Tensor z = step_noise(shape, o.seed, o.probe_step + static_cast<uint64_t>(p), o.first_index);
  if (o.estimator == TraceEstimator::Gaussian) return z;
  float* zp = z.data();  // fresh and contiguous
  for (int64_t i = 0; i < z.numel(); ++i) zp[i] = zp[i] >= 0.0f ? 1.0f : -1.0f;
  return z;
}

// The j-th basis vector of every row: e[b, j] = 1, all else 0.
Tensor basis_probe(const Shape& shape, int64_t j) {
  Tensor e = zeros(shape);
  const int64_t rows = shape[0], d = shape.numel() / rows;
  for (int64_t r = 0; r < rows; ++r) e.data()[r * d + j] = 1.0f;
  return e;
}

// log Q(z), Q(z) = P(N(0,1) > z), accurate far into the upper tail (erfc underflows past z ~ 37;
// beyond z = 30 the asymptotic series Q(z) ~ phi(z)/z (1 - 1/z^2 + 3/z^4) is exact to 1e-7).
double log_upper_tail(double z) {
  if (z < 30.0) return std::log(0.5 * std::erfc(z / std::sqrt(2.0)));
  const double z2 = z * z;
  return -0.5 * z2 - std::log(z) - 0.5 * kLog2Pi + std::log1p(-1.0 / z2 + 3.0 / (z2 * z2));
}

// log P(lo < N(0,1) < hi) for lo < hi (either may be infinite), without cancellation: on one side
// of 0 it is Q(lo) - Q(hi) (or the mirror image), computed as log Q(lo) + log1p(-Q(hi) / Q(lo)).
double log_normal_interval(double lo, double hi) {
  if (lo >= 0.0) {
    if (std::isinf(hi)) return log_upper_tail(lo);
    const double a = log_upper_tail(lo), b = log_upper_tail(hi);
    return a + std::log1p(-std::exp(b - a));
  }
  if (hi <= 0.0) return log_normal_interval(-hi, -lo);
  // lo < 0 < hi: 1 - Q(hi) - Q(-lo), at least P(0 < N < min(hi, -lo)), never tiny.
  const double qh = std::isinf(hi) ? 0.0 : 0.5 * std::erfc(hi / std::sqrt(2.0));
  const double ql = std::isinf(lo) ? 0.0 : 0.5 * std::erfc(-lo / std::sqrt(2.0));
  return std::log1p(-(qh + ql));
}

// log p(x0 | mu, s) of Ho et al.'s discretised decoder (sec. 3.3, eq. 13) for one value
// x0 = k / 127.5 - 1: the mass of N(mu, s^2) on [x0 - 1/255, x0 + 1/255], edge bins open.
double log_discretized_gaussian(double x0, double mu, double s) {
  const double half = 1.0 / 255.0;
  const double lo = x0 <= -1.0 + 0.5 * half ? -INFINITY : (x0 - half - mu) / s;
  const double hi = x0 >= 1.0 - 0.5 * half ? INFINITY : (x0 + half - mu) / s;
  return log_normal_interval(lo, hi);
}

// 0.5 [log(vp / vq) + (vq + dmu^2) / vp - 1] = KL(N(mu_q, vq) || N(mu_p, vp)) per dimension.
double gaussian_kl(double dmu, double vq, double vp) {
  return 0.5 * (std::log(vp / vq) + (vq + dmu * dmu) / vp - 1.0);
}

}  // namespace

std::vector<double> divergence(const std::function<Tensor(const Tensor&)>& v, const Tensor& x,
                               const DivergenceOptions& o, Tensor* v_out) {
  const int64_t d = row_size(x, "divergence");
  MD_CHECK(grad_enabled(), "divergence: needs gradient mode, but it runs under a NoGradGuard");
  MD_CHECK(o.probes >= 1, "divergence: probes must be >= 1, got ", o.probes);
  MD_CHECK(o.estimator != TraceEstimator::Exact || d <= kMaxExactTraceDim,
           "divergence: the exact trace needs D <= ", kMaxExactTraceDim, " values per sample, x ",
           x.shape().str(), " has ", d, "; use a Hutchinson estimator");
  Tensor xr = x.detach().contiguous().detach();
  xr.requires_grad_();
  const Tensor vx = v(xr);
  MD_CHECK(vx.defined() && vx.shape() == x.shape(), "divergence: v returned ",
           vx.defined() ? vx.shape().str() : std::string("undefined"), " for x ", x.shape().str());
  if (v_out) *v_out = vx.detach();
  std::vector<double> div(x.size(0), 0.0);
  if (!vx.requires_grad()) return div;  // v does not depend on x
  const bool exact = o.estimator == TraceEstimator::Exact;
  const int64_t passes = exact ? d : o.probes;
  for (int64_t p = 0; p < passes; ++p) {
    const Tensor e = exact ? basis_probe(x.shape(), p) : hutchinson_probe(x.shape(), o, p);
    run_backward(vx, e, /*keep_graph=*/p + 1 < passes);
    const Tensor g = xr.grad();  // e^T dv/dx, row by row
    xr.zero_grad();
    if (!g.defined()) continue;
    const std::vector<double> eg = row_dot(g, e);
    for (size_t b = 0; b < div.size(); ++b) div[b] += eg[b];
  }
  if (!exact)
    for (double& value : div) value /= static_cast<double>(passes);
  return div;
}

Tensor uniform_dequantize(const Tensor& x, double bin_width, uint64_t seed, int64_t first_index) {
  row_size(x, "uniform_dequantize");
  MD_CHECK(bin_width > 0.0, "uniform_dequantize: bin_width must be positive, got ", bin_width);
  // U[0, 1) from the normal CDF of per-sample step noise, so sample i's u depends on (seed, i).
  Tensor z = step_noise(x.shape(), seed, 0, first_index);
  float* zp = z.data();
  for (int64_t i = 0; i < z.numel(); ++i) {
    const double u = 0.5 * std::erfc(-zp[i] / std::sqrt(2.0));
    zp[i] = static_cast<float>(bin_width * std::min(u, 1.0 - 1e-7));
  }
  NoGradGuard no_grad;
  return x.detach() + z;
}

LikelihoodResult ode_likelihood(const Denoiser& den, const Tensor& x,
                                const LikelihoodOptions& o) {
  const int64_t d = row_size(x, "ode_likelihood"), batch = x.size(0);
  MD_CHECK(o.steps >= 1, "ode_likelihood: steps must be >= 1, got ", o.steps);
  MD_CHECK(o.bin_width >= 0.0, "ode_likelihood: bin_width must be >= 0, got ", o.bin_width);
  MD_CHECK(grad_enabled(), "ode_likelihood: needs gradient mode, but it runs under a NoGradGuard");
  const Process& p = den.process();
  DivergenceOptions div_o;
  div_o.estimator = o.estimator;
  div_o.probes = o.probes;
  div_o.seed = o.seed;
  div_o.first_index = o.first_index;  // probe_step 0: the same probes at every stage

  // One stage: v(x, t) = f(t) x - g(t)^2 / 2 score(x, t) (Song et al. eq. 13) and its divergence.
  auto stage = [&](const Tensor& xs, double t, Tensor& v) {
    const float f = static_cast<float>(p.drift(t));
    const float half_g2 = static_cast<float>(0.5 * p.diffusion(t) * p.diffusion(t));
    const Tensor tb = time_batch(batch, t);
    auto velocity = [&](const Tensor& xi) {
      const Tensor s = den.score(xi, tb) * (-half_g2);
      return f == 0.0f ? s : xi * f + s;
    };
    return divergence(velocity, xs, div_o, &v);
  };

  // Classical RK4 on the uniform grid t_k = t_min + k h, for the pair (x, int div v dt).
  const double t0 = p.t_min(), h = (p.t_max() - t0) / o.steps;
  Tensor xs = x.detach();
  std::vector<double> integral(batch, 0.0);
  Tensor k1, k2, k3, k4;
  for (int k = 0; k < o.steps; ++k) {
    const double t = t0 + k * h;
    const std::vector<double> d1 = stage(xs, t, k1);
    const std::vector<double> d2 = stage(xs + k1 * static_cast<float>(h / 2), t + h / 2, k2);
    const std::vector<double> d3 = stage(xs + k2 * static_cast<float>(h / 2), t + h / 2, k3);
    const std::vector<double> d4 = stage(xs + k3 * static_cast<float>(h), t + h, k4);
    {
      NoGradGuard no_grad;
      xs = xs + (k1 + k2 * 2.0f + k3 * 2.0f + k4) * static_cast<float>(h / 6);
    }
    for (int64_t b = 0; b < batch; ++b)
      integral[b] += h / 6 * (d1[b] + 2 * d2[b] + 2 * d3[b] + d4[b]);
  }

  LikelihoodResult r;
  r.evaluations = 4LL * o.steps;
  const double prior_var = p.prior_std() * p.prior_std();
  const std::vector<double> sq = row_dot(xs, xs);
  const double bin_term = o.bin_width > 0.0 ? -d * std::log(o.bin_width) : 0.0;
  for (int64_t b = 0; b < batch; ++b) {
    const double prior = -0.5 * d * (kLog2Pi + std::log(prior_var)) - 0.5 * sq[b] / prior_var;
    r.prior_log_p.push_back(prior);
    r.log_p.push_back(prior + integral[b]);
    r.bpd.push_back((-r.log_p.back() + bin_term) / (d * kLn2));
    r.mean_bpd += r.bpd.back() / batch;
  }
  return r;
}

namespace {

// The steps of ddpm_bound (Ho et al. eq. 5): L_T + sum_{t>=2} L_{t-1} + L_0, each per sample.
// Ho's t is 1-based; abar[n] = alpha_bar_{n+1} and beta[n] = beta_{n+1}.
class BoundTerms {
 public:
  BoundTerms(const Denoiser& den, const DiscreteDDPM& ddpm, const Tensor& x0, const BoundOptions& o)
      : den_(den), ddpm_(ddpm), x0_(x0), o_(o), xv_(x0.to_vector()), batch_(x0.size(0)),
        d_(x0.numel() / batch_), beta_(ddpm.betas()), abar_(ddpm.alphas_bar()) {}

  const std::vector<float>& data() const { return xv_; }
  int64_t evaluations() const { return evaluations_; }

  // L_T = KL(N(sqrt(abar_N) x0, 1 - abar_N) || N(0, 1)) per dimension.
  std::vector<double> prior() const {
    std::vector<double> out(batch_, 0.0);
    const double abar_n = abar_.back();
    for (int64_t i = 0; i < batch_ * d_; ++i)
      out[i / d_] += gaussian_kl(std::sqrt(abar_n) * xv_[i], 1.0 - abar_n, 1.0);
    return out;
  }

  // L_{t-1}, t = 2..N: all of them, or one per stratum (weighted by the stratum's size).
  std::vector<double> diffusion() {
    std::vector<double> out(batch_, 0.0);
    const int m = static_cast<int>(beta_.size()) - 1;
    const int strata = o_.timesteps == 0 ? m : std::min(o_.timesteps, m);
    const std::vector<int> edge = stratum_edges(m, strata);
    Generator gen(o_.seed ^ 0x6a09e667f3bcc909ull);
    const std::vector<float> u = rand(Shape({strata}), gen).to_vector();
    for (int k = 0; k < strata; ++k) {
      const int size = edge[k + 1] - edge[k];
      const int pick = size == 1 ? 0 : std::min(size - 1, static_cast<int>(u[k] * size));
      add_transition_kl(2 + edge[k] + pick, size, out);
    }
    return out;
  }

  // L_0 = -log p(x0 | x_1), decoder N(mu_theta(x_1, 1), beta_1) (beta_tilde_1 = 0 cannot serve):
  // the probability of x0's 8-bit bin, or the density for continuous data.
  std::vector<double> decoder() {
    std::vector<double> out(batch_, 0.0);
    const double s1 = std::sqrt(beta_[0]);
    const bool discrete = o_.decoder == DecoderKind::Discretized8Bit;
    term(1, [&](int64_t i, double, double mu) {
      const double x = xv_[i];
      out[i / d_] -= discrete ? log_discretized_gaussian(x, mu, s1)
                              : -0.5 * (kLog2Pi + 2 * std::log(s1)) -
                                    0.5 * (x - mu) * (x - mu) / (s1 * s1);
    });
    return out;
  }

 private:
  // The strata of t = 2..N as edges into the m = N - 1 terms. The terms fall off roughly like
  // 1/t for data that are smooth at the scale sigma_t (most of the bound sits at small t), so the
  // strata are geometric in t: e_k = round(M^{k/K}) made strictly increasing, which evaluates the
  // first terms one by one.
  static std::vector<int> stratum_edges(int m, int strata) {
    std::vector<int> edge(strata + 1, 0);
    for (int k = 1; k <= strata; ++k) {
      const int target = static_cast<int>(std::lround(std::pow(m + 1.0, double(k) / strata))) - 1;
      edge[k] = std::min(std::max(edge[k - 1] + 1, target), m - (strata - k));
    }
    return edge;
  }

  // weight * KL(q(x_{t-1} | x_t, x0) || p_theta(x_{t-1} | x_t)) into out, with the posterior
  // q = N(c0 x0 + ct x_t, beta_tilde_t) (Ho eq. 7) and the model's variance beta_t or beta_tilde_t.
  void add_transition_kl(int t, double weight, std::vector<double>& out) {
    const double ab = abar_[t - 1], ab_prev = abar_[t - 2], b_t = beta_[t - 1];
    const double c0 = std::sqrt(ab_prev) * b_t / (1.0 - ab);
    const double ct = std::sqrt(1.0 - b_t) * (1.0 - ab_prev) / (1.0 - ab);
    const double var_q = (1.0 - ab_prev) / (1.0 - ab) * b_t;
    const double var_p = o_.variance == ReverseVariance::Beta ? b_t : var_q;
    term(t, [&](int64_t i, double xt, double mu) {
      out[i / d_] += weight * gaussian_kl(c0 * xv_[i] + ct * xt - mu, var_q, var_p);
    });
  }

  // One evaluation at Ho's t: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps with draw t of
  // step_noise, the model mean mu_theta = (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(alpha_t)
  // (Ho eq. 11) per element, then `use(i, x_t, mu_theta)`.
  template <class Use>
  void term(int t, Use use) {
    const double ab = abar_[t - 1], a_t = 1.0 - beta_[t - 1];
    const Tensor eps = step_noise(x0_.shape(), o_.seed, static_cast<uint64_t>(t), o_.first_index);
    const std::vector<float> ev = eps.to_vector();
    std::vector<float> xt(xv_.size());
    for (size_t i = 0; i < xv_.size(); ++i)
      xt[i] = static_cast<float>(std::sqrt(ab) * xv_[i] + std::sqrt(1.0 - ab) * ev[i]);
    const Tensor times = time_batch(batch_, ddpm_.time_of_step(t - 1));
    const std::vector<float> eps_hat = den_.eps(from_data(xt, x0_.shape()), times).to_vector();
    ++evaluations_;
    const double c_eps = beta_[t - 1] / std::sqrt(1.0 - ab), inv_sqrt_a = 1.0 / std::sqrt(a_t);
    for (size_t i = 0; i < xv_.size(); ++i)
      use(static_cast<int64_t>(i), static_cast<double>(xt[i]),
          (xt[i] - c_eps * eps_hat[i]) * inv_sqrt_a);
  }

  const Denoiser& den_;
  const DiscreteDDPM& ddpm_;
  const Tensor& x0_;
  const BoundOptions& o_;
  const std::vector<float> xv_;
  const int64_t batch_, d_;
  const std::vector<double>& beta_;
  const std::vector<double>& abar_;
  int64_t evaluations_ = 0;
};

// The discretised decoder scores 8-bit data: every value k / 127.5 - 1 in [-1, 1].
void check_eight_bit(const std::vector<float>& xv, const Tensor& x0) {
  for (size_t i = 0; i < xv.size(); ++i) {
    const double level = (static_cast<double>(xv[i]) + 1.0) * 127.5;
    MD_CHECK(xv[i] >= -1.0f - 1e-6f && xv[i] <= 1.0f + 1e-6f &&
                 std::fabs(level - std::round(level)) < 1e-2,
             "ddpm_bound: the discretised decoder needs 8-bit data k / 127.5 - 1 in [-1, 1], but ",
             "element ", i, " of x0 ", x0.shape().str(), " is ", xv[i],
             " (use DecoderKind::Gaussian for continuous data)");
  }
}

}  // namespace

BoundResult ddpm_bound(const Denoiser& den, const Tensor& x0, const BoundOptions& o) {
  const int64_t d = row_size(x0, "ddpm_bound"), batch = x0.size(0);
  const auto* ddpm = dynamic_cast<const DiscreteDDPM*>(&den.process());
  MD_CHECK(ddpm, "ddpm_bound: needs a discrete DDPM process (ddpm-linear or ddpm-cosine), but the ",
           "denoiser's process is '", den.process().name(), "'; use ode_likelihood instead");
  MD_CHECK(o.timesteps >= 0, "ddpm_bound: timesteps must be >= 0 (0 for all), got ", o.timesteps);
  MD_CHECK(ddpm->steps() >= 2, "ddpm_bound: the process has ", ddpm->steps(),
           " step(s); need at least 2");
  NoGradGuard no_grad;
  BoundTerms terms(den, *ddpm, x0, o);
  if (o.decoder == DecoderKind::Discretized8Bit) check_eight_bit(terms.data(), x0);
  const std::vector<double> prior = terms.prior(), diff = terms.diffusion(), dec = terms.decoder();

  BoundResult r;
  r.evaluations = terms.evaluations();
  const double to_bits = 1.0 / (d * kLn2);
  for (int64_t b = 0; b < batch; ++b) {
    r.bpd.push_back((prior[b] + diff[b] + dec[b]) * to_bits);
    r.mean_bpd += r.bpd.back() / batch;
    r.prior_bpd += prior[b] * to_bits / batch;
    r.diffusion_bpd += diff[b] * to_bits / batch;
    r.decoder_bpd += dec[b] * to_bits / batch;
  }
  return r;
}

}  // namespace mindiff::diffusion
