// Likelihoods (diffusion/likelihood.h) where the truth is known in closed form:
//   * Hutchinson's estimator is unbiased, with the variance its theory gives, on a linear map;
//   * the probability-flow ODE likelihood of Gaussian data matches the exact log-density within
//     0.02 bits per dimension (and so does the ring's with the exact trace);
//   * the DDPM bound is never below the exact value, -log p_theta(x_0) of the DDPM Markov chain
//     itself, which is linear-Gaussian, hence exact in closed form, when the data are Gaussian and
//     the denoiser is the exact one.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "diffusion/gmm.h"
#include "diffusion/likelihood.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;

const double kLn2 = std::log(2.0);
constexpr double kOdeBpdTol = 0.02;  // the tolerance for the ODE likelihood

GaussianMixture gaussian(const std::vector<double>& mean, double std) {
  GaussianMixture g;
  g.weights = {1.0};
  g.means = {mean};
  g.stds = {std};
  return g;
}

// ---- Hutchinson ----

// v(x) = x A row by row ([B, D] @ [D, D]), so every row's Jacobian is A^T and div v = tr A.
// One probe per row: the B row estimates are B independent draws of e^T A^T e.
TEST(Likelihood, HutchinsonIsUnbiasedWithItsTheoreticalVariance) {
  const int64_t d = 4, rows = 4000;
  const std::vector<float> a_values = {1.0f,  0.5f, -0.3f, 0.2f,  //
                                       0.1f,  2.0f, 0.4f,  -0.6f,  //
                                       -0.7f, 0.3f, -1.0f, 0.8f,  //
                                       0.2f,  0.0f, 0.9f,  0.5f};
  const Tensor a = from_data(a_values, Shape({d, d}));
  double trace = 0, off_sym2 = 0, diag2 = 0;  // tr A, sum_{i != j} S_ij^2, sum_i S_ii^2
  for (int64_t i = 0; i < d; ++i) {
    trace += a_values[i * d + i];
    diag2 += a_values[i * d + i] * a_values[i * d + i];
    for (int64_t j = 0; j < d; ++j)
      if (i != j) {
        const double s = 0.5 * (a_values[i * d + j] + a_values[j * d + i]);
        off_sym2 += s * s;
      }
  }
  // Var e^T S e: Rademacher 2 sum_{i != j} S_ij^2 (e_i^2 = 1 removes the diagonal's spread);
  // Gaussian 2 |S|_F^2 (Hutchinson 1990; Avron & Toledo 2011).
  const double var_rademacher = 2 * off_sym2, var_gaussian = 2 * (off_sym2 + diag2);
  const Tensor x = randn(Shape({rows, d}), 3);
  auto v = [&](const Tensor& xi) { return matmul(xi, a); };
  for (const auto& [est, var] : {std::pair{TraceEstimator::Rademacher, var_rademacher},
                                 std::pair{TraceEstimator::Gaussian, var_gaussian}}) {
    DivergenceOptions o;
    o.estimator = est;
    o.seed = 17;
    const std::vector<double> div = divergence(v, x, o);
    double mean = 0, sq = 0;
    for (double e : div) mean += e / rows;
    for (double e : div) sq += (e - mean) * (e - mean) / (rows - 1);
    // The mean of 4000 draws is within 4 standard errors of tr A (a 6e-5 chance miss); the
    // sample variance of 4000 draws is within 15% of the truth (its relative std is about
    // sqrt(2 / 4000 + excess kurtosis / 4000), under 4%).
    EXPECT_NEAR(mean, trace, 4 * std::sqrt(var / rows));
    EXPECT_NEAR(sq, var, 0.15 * var);
  }
  DivergenceOptions exact;
  exact.estimator = TraceEstimator::Exact;
  for (double e : divergence(v, x.slice(0, 0, 10), exact)) EXPECT_NEAR(e, trace, 1e-5);
  // Several probes average: their mean has variance var / probes.
  DivergenceOptions many;
  many.probes = 400;
  many.seed = 5;
  for (double e : divergence(v, x.slice(0, 0, 2), many))
    EXPECT_NEAR(e, trace, 5 * std::sqrt(var_rademacher / 400));
}

// ---- probability-flow ODE ----

// Exact bits/dim of p_{t_min} for the mixture: log p_{t_min} is the mixture noised by
// alpha(t_min), sigma(t_min) (gmm.h).
std::vector<double> exact_bpd(const GaussianMixture& g, const Process& p, const Tensor& x) {
  const std::vector<double> lp = g.log_density(x, p.alpha(p.t_min()), p.sigma(p.t_min()));
  std::vector<double> bpd;
  for (double l : lp) bpd.push_back(-l / (g.dim() * kLn2));
  return bpd;
}

TEST(Likelihood, OdeLikelihoodOfGaussianMatchesExactLogDensity) {
  // N(m, 0.8^2 I), D = 2, 4, 8, on VP and OU (priors N(0, I) that p_T matches to
  // alpha(T) |m| < 0.007 per dimension) and on VE with a smaller mean (there p_T = N(m, s0^2 +
  // 50^2) and the prior N(0, 50^2) differ by about |m| / 50 nats per dimension: m = 0.1 keeps that
  // near 0.003 bits). Rademacher probes: the Jacobian of an isotropic Gaussian's score is a
  // multiple of I, so e^T J e = tr J exactly and only the ODE solve is tested. Measured: at most
  // 0.007 bits, all of it the prior mismatch (unchanged from 25 to 200 steps, 2e-5 when m = 0).
  const std::vector<std::shared_ptr<const Process>> processes = {
      std::make_shared<VPSDE>(), std::make_shared<OrnsteinUhlenbeck>(),
      std::make_shared<VESDE>()};
  for (const auto& p : processes) {
    for (int64_t d : {2, 4, 8}) {
      SCOPED_TRACE(p->name() + " D = " + std::to_string(d));
      std::vector<double> mean(d);
      for (int64_t j = 0; j < d; ++j) mean[j] = (p->name() == "ve" ? 0.1 : 0.5) * (j % 2 ? -1 : 1);
      const GaussianMixture g = gaussian(mean, 0.8);
      Generator gen(40 + d);
      const Tensor x = g.sample(16, gen);
      const MixtureDenoiser den(g, p);
      LikelihoodOptions o;
      o.steps = 50;
      const LikelihoodResult r = ode_likelihood(den, x, o);
      const std::vector<double> want = exact_bpd(g, *p, x);
      for (size_t b = 0; b < want.size(); ++b) EXPECT_NEAR(r.bpd[b], want[b], kOdeBpdTol);
      EXPECT_EQ(r.evaluations, 200);
    }
  }
}

TEST(Likelihood, OdeLikelihoodOfRingWithExactTraceMatchesExactLogDensity) {
  const GaussianMixture ring = GaussianMixture::ring8();
  const auto p = std::make_shared<VPSDE>();
  const MixtureDenoiser den(ring, p);
  Generator gen(9);
  const Tensor x = ring.sample(32, gen);
  LikelihoodOptions o;
  o.steps = 100;
  o.estimator = TraceEstimator::Exact;
  const LikelihoodResult r = ode_likelihood(den, x, o);
  const std::vector<double> want = exact_bpd(ring, *p, x);
  for (size_t b = 0; b < want.size(); ++b) EXPECT_NEAR(r.bpd[b], want[b], kOdeBpdTol);
}

TEST(Likelihood, DequantisedBitsAddLog2Of127Point5) {
  // With bins of width w = 2/255, bpd = (-log p + D log(1/w)) / (D ln 2) = the continuous bpd
  // + log2(127.5) (likelihood.h).
  const GaussianMixture g = gaussian({0.1, -0.2, 0.3}, 0.5);
  const MixtureDenoiser den(g, std::make_shared<VPSDE>());
  Generator gen(2);
  const Tensor x = g.sample(4, gen);
  LikelihoodOptions o;
  o.steps = 10;
  const LikelihoodResult cont = ode_likelihood(den, x, o);
  o.bin_width = 2.0 / 255.0;
  const LikelihoodResult binned = ode_likelihood(den, x, o);
  for (size_t b = 0; b < cont.bpd.size(); ++b)
    EXPECT_NEAR(binned.bpd[b] - cont.bpd[b], std::log2(127.5), 1e-9);
  const Tensor xu = uniform_dequantize(x, 2.0 / 255.0, 3);
  const std::vector<float> xv = x.to_vector(), uv = xu.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    EXPECT_GE(uv[i] - xv[i], -1e-6f);
    EXPECT_LT(uv[i] - xv[i], 2.0f / 255.0f + 1e-6f);
  }
}

// ---- DDPM bound ----

// -log p_theta(x_0) per sample, in bits/dim, of the DDPM chain with the exact denoiser of
// x_0 ~ N(m, s^2 I). Per dimension, E[x_0 | x_t] = m + K_t (x_t - a m), K_t = a s^2 / (a^2 s^2 +
// 1 - abar_t), a = sqrt(abar_t), so the model mean mu_theta = c0 x0_hat + ct x_t (Ho eq. 7 with
// x0_hat, which equals Ho eq. 11) is A_t x_t + B_t. From x_N ~ N(0, 1), x_{t-1} = A_t x_t + B_t +
// sigma_t z keeps the chain Gaussian: M <- A M + B, V <- A^2 V + sigma_t^2, and the decoder
// N(A_1 x_1 + B_1, beta_1) gives x_0 ~ N(M_0, V_0). Continuous data: -log N(x_0; M_0, V_0);
// 8-bit data: -log of the N(M_0, V_0) mass of x_0's bin (edges at x_0 +- 1/255, open at +-1).
std::vector<double> exact_model_nll(const DiscreteDDPM& p, const std::vector<double>& m, double s,
                                    const Tensor& x0, ReverseVariance variance, bool discrete) {
  const std::vector<double>& beta = p.betas();
  const std::vector<double>& abar = p.alphas_bar();
  const int64_t d = static_cast<int64_t>(m.size()), rows = x0.size(0);
  std::vector<double> mean0(d), var0(d);
  for (int64_t j = 0; j < d; ++j) {
    double mm = 0, vv = 1;
    for (int t = p.steps(); t >= 1; --t) {
      const double ab = abar[t - 1], ab_prev = t > 1 ? abar[t - 2] : 1.0, b = beta[t - 1];
      const double a = std::sqrt(ab), k = a * s * s / (a * a * s * s + 1 - ab);
      const double c0 = std::sqrt(ab_prev) * b / (1 - ab);
      const double ct = std::sqrt(1 - b) * (1 - ab_prev) / (1 - ab);
      const double big_a = c0 * k + ct, big_b = c0 * (m[j] - k * a * m[j]);
      const double var_q = (1 - ab_prev) / (1 - ab) * b;
      const double step_var = t == 1 ? b : (variance == ReverseVariance::Beta ? b : var_q);
      mm = big_a * mm + big_b;
      vv = big_a * big_a * vv + step_var;
    }
    mean0[j] = mm;
    var0[j] = vv;
  }
  const std::vector<float> xv = x0.to_vector();
  std::vector<double> out(rows, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double x = xv[i * d + j], sd = std::sqrt(var0[j]);
      if (discrete) {
        auto cdf = [&](double z) { return 0.5 * std::erfc(-(z - mean0[j]) / (sd * std::sqrt(2.0))); };
        const double hi = x > 1 - 1e-3 ? 1.0 : cdf(x + 1 / 255.0);
        const double lo = x < -1 + 1e-3 ? 0.0 : cdf(x - 1 / 255.0);
        out[i] -= std::log(hi - lo);
      } else {
        out[i] += 0.5 * std::log(2 * std::acos(-1.0) * var0[j]) +
                  0.5 * (x - mean0[j]) * (x - mean0[j]) / var0[j];
      }
    }
    out[i] /= d * kLn2;
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e / v.size();
  return s;
}

// P(lo < N(0, 1) < hi), on the side of 0 where the tail masses are small (no cancellation to 7
// std).
double normal_mass(double lo, double hi) {
  auto q = [](double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); };  // P(N > z)
  if (lo >= 0) return q(lo) - q(hi);
  if (hi <= 0) return q(-hi) - q(-lo);
  return 1 - q(hi) - q(-lo);
}

// The expectation over x_1..x_N of the bound, per sample in bits/dim, for the same Gaussian data
// and exact denoiser. With dev = x_0 - m, mu_tilde - mu_theta = c0 (x_0 - x0_hat) and
// x0_hat = m + K_t (x_t - a m), x_t ~ N(a x_0, 1 - abar_t), so x0_hat ~ N(m + K_t a dev,
// K_t^2 (1 - abar_t)) and
//   E (mu_tilde - mu_theta)^2 = c0^2 [(1 - K_t a)^2 dev^2 + K_t^2 (1 - abar_t)];
// each KL term is 0.5 [log(vp / vq) + (vq + that) / vp - 1]. L_0 (c0 = 1 at t = 1) is
// 0.5 log(2 pi beta_1) + E (x_0 - x0_hat)^2 / (2 beta_1) for the continuous decoder, and for the
// discretised one the expectation of -log P(bin | N(x0_hat, beta_1)) over x0_hat, by the
// trapezoid rule on 1401 points over +-7 std (the integrand is smooth; the tails beyond carry
// under 1e-10).
std::vector<double> expected_bound(const DiscreteDDPM& p, const std::vector<double>& m, double s,
                                   const Tensor& x0, ReverseVariance variance, bool discrete) {
  const std::vector<double>& beta = p.betas();
  const std::vector<double>& abar = p.alphas_bar();
  const int64_t d = static_cast<int64_t>(m.size()), rows = x0.size(0);
  const std::vector<float> xv = x0.to_vector();
  const double pi = std::acos(-1.0);
  std::vector<double> out(rows, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double x = xv[i * d + j], dev = x - m[j], ab_n = abar[p.steps() - 1];
      double nats = 0.5 * (-std::log(1 - ab_n) + (1 - ab_n) + ab_n * x * x - 1);
      for (int t = 1; t <= p.steps(); ++t) {
        const double ab = abar[t - 1], ab_prev = t > 1 ? abar[t - 2] : 1.0, b = beta[t - 1];
        const double a = std::sqrt(ab), k = a * s * s / (a * a * s * s + 1 - ab);
        const double c0 = std::sqrt(ab_prev) * b / (1 - ab);
        const double e2 = (1 - k * a) * (1 - k * a) * dev * dev + k * k * (1 - ab);
        if (t > 1) {
          const double vq = (1 - ab_prev) / (1 - ab) * b;
          const double vp = variance == ReverseVariance::Beta ? b : vq;
          nats += 0.5 * (std::log(vp / vq) + (vq + c0 * c0 * e2) / vp - 1);
        } else if (!discrete) {
          nats += 0.5 * std::log(2 * pi * b) + e2 / (2 * b);
        } else {
          const double mean_hat = m[j] + k * a * dev, sd_hat = k * std::sqrt(1 - ab);
          const double sd = std::sqrt(b);
          const int n = 1400;
          double acc = 0;
          for (int q = 0; q <= n; ++q) {
            const double z = -7.0 + 14.0 * q / n, mu = mean_hat + sd_hat * z;
            const double lo = x < -1 + 1e-3 ? -INFINITY : (x - 1 / 255.0 - mu) / sd;
            const double hi = x > 1 - 1e-3 ? INFINITY : (x + 1 / 255.0 - mu) / sd;
            const double w = (q == 0 || q == n ? 0.5 : 1.0) * (14.0 / n);
            acc -= w * std::exp(-0.5 * z * z) / std::sqrt(2 * pi) * std::log(normal_mass(lo, hi));
          }
          nats += acc;
        }
      }
      out[i] += nats / (d * kLn2);
    }
  }
  return out;
}

// Mean and standard error of a - b over samples.
std::pair<double, double> mean_and_se_of_difference(const std::vector<double>& a,
                                                    const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double mean = 0, var = 0;
  for (size_t i = 0; i < a.size(); ++i) mean += (a[i] - b[i]) / n;
  for (size_t i = 0; i < a.size(); ++i) var += (a[i] - b[i] - mean) * (a[i] - b[i] - mean) / (n - 1);
  return {mean, std::sqrt(var / n)};
}

// x_0 ~ N(m, 0.3^2 I) in D = 16 under ddpm-linear (1000 steps) with the exact denoiser; 8-bit data
// are the same draws rounded to the grid k / 127.5 - 1 and clipped to [-1, 1], so a few land in the
// open edge bins.
struct BoundCase {
  std::shared_ptr<DiscreteDDPM> process = DiscreteDDPM::linear();
  std::vector<double> mean;
  double std = 0.3;
  Tensor x_cont, x_8bit;
  BoundCase() {
    for (int j = 0; j < 16; ++j) mean.push_back(0.1 * ((j % 5) - 2));
    Generator gen(77);
    x_cont = gaussian(mean, std).sample(128, gen);
    std::vector<float> q = x_cont.to_vector();
    for (float& v : q) v = std::clamp(std::round((v + 1.0f) * 127.5f), 0.0f, 255.0f) / 127.5f - 1.0f;
    x_8bit = from_data(q, x_cont.shape());
  }
};

// The "the DDPM bound is never below the exact value". The exact value is
// -log p_theta(x_0) (continuous) or -log P_theta(bin of x_0) (8-bit) of the model itself, the DDPM
// chain with the exact denoiser, in closed form (exact_model_nll). The variational inequality says
// the expected bound is above it for every x_0; the test checks that per sample with the expected
// bound in closed form (so the check has no Monte Carlo noise), and checks that ddpm_bound's
// one-draw-per-term estimate agrees with that expectation within 4 standard errors.
TEST(Likelihood, DdpmBoundIsNeverBelowTheExactModelLikelihood) {
  const BoundCase c;
  const MixtureDenoiser den(gaussian(c.mean, c.std), c.process);
  for (const ReverseVariance var : {ReverseVariance::Beta, ReverseVariance::BetaTilde}) {
    for (const bool discrete : {false, true}) {
      SCOPED_TRACE(std::string(discrete ? "8-bit" : "continuous") +
                   (var == ReverseVariance::Beta ? ", beta" : ", beta-tilde"));
      const Tensor& x = discrete ? c.x_8bit : c.x_cont;
      BoundOptions o;
      o.variance = var;
      o.decoder = discrete ? DecoderKind::Discretized8Bit : DecoderKind::Gaussian;
      o.seed = 3;
      const BoundResult r = ddpm_bound(den, x, o);
      EXPECT_EQ(r.evaluations, 1000);
      EXPECT_NEAR(r.prior_bpd + r.diffusion_bpd + r.decoder_bpd, r.mean_bpd, 1e-9);
      const std::vector<double> exact = exact_model_nll(*c.process, c.mean, c.std, x, var, discrete);
      const std::vector<double> expected = expected_bound(*c.process, c.mean, c.std, x, var, discrete);
      for (size_t i = 0; i < exact.size(); ++i) EXPECT_GE(expected[i], exact[i]) << "sample " << i;
      const auto [mc_mean, mc_se] = mean_and_se_of_difference(r.bpd, expected);
      EXPECT_LT(std::fabs(mc_mean), 4 * mc_se);
    }
  }
}

// A subset of 100 geometric strata estimates the same bound without bias: averaged over 8 seeds
// (8 draws of the strata's terms) it agrees with the closed-form expectation within 4 standard
// errors of those 8 estimates.
TEST(Likelihood, DdpmBoundOnStratifiedSubsetIsUnbiased) {
  const BoundCase c;
  const MixtureDenoiser den(gaussian(c.mean, c.std), c.process);
  const Tensor x = c.x_cont.slice(0, 0, 32);
  const double expected =
      mean_of(expected_bound(*c.process, c.mean, c.std, x, ReverseVariance::Beta, false));
  std::vector<double> estimates, zero(8, expected);
  for (uint64_t seed = 0; seed < 8; ++seed) {
    BoundOptions o;
    o.decoder = DecoderKind::Gaussian;
    o.timesteps = 100;
    o.seed = seed;
    const BoundResult r = ddpm_bound(den, x, o);
    EXPECT_EQ(r.evaluations, 101);
    estimates.push_back(r.mean_bpd);
  }
  const auto [mean, se] = mean_and_se_of_difference(estimates, zero);
  EXPECT_LT(std::fabs(mean), 4 * se);
}

TEST(Likelihood, ErrorsNameTheFunctionAndTheProblem) {
  const GaussianMixture g = gaussian({0.0, 0.0}, 0.5);
  const MixtureDenoiser vp(g, std::make_shared<VPSDE>());
  const Tensor x = zeros(Shape({2, 2}));
  test::expect_error([&] { ddpm_bound(vp, x, BoundOptions()); }, {"ddpm_bound", "'vp'"});
  const MixtureDenoiser ddpm(g, DiscreteDDPM::linear(10));
  test::expect_error([&] { ddpm_bound(ddpm, full(Shape({2, 2}), 0.001f), BoundOptions()); },
                     {"ddpm_bound", "8-bit", "[2, 2]"});
  {
    NoGradGuard no_grad;
    test::expect_error([&] { ode_likelihood(vp, x, LikelihoodOptions()); },
                       {"ode_likelihood", "NoGradGuard"});
  }
  DivergenceOptions exact;
  exact.estimator = TraceEstimator::Exact;
  test::expect_error([&] { divergence([](const Tensor& v) { return v; }, zeros(Shape({1, 65})), exact); },
                     {"divergence", "[1, 65]", "64"});
}

}  // namespace
}  // namespace mindiff
