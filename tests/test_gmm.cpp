// Gaussian mixtures, the exact noised score and the Denoiser conversions: the score against
// finite differences of log_density, Tweedie's formula against the closed-form Gaussian
// posterior mean, the Hessian backward (gradcheck), sample moments, and errors.
#include <cmath>

#include "diffusion/gmm.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using diffusion::GaussianMixture;
using diffusion::MixtureDenoiser;
using test::expect_error;
using test::grad_ok;

// A 16-D mixture with unequal weights and stds: means ~ N(0, 2^2 I).
GaussianMixture mixture16() {
  GaussianMixture m;
  m.weights = {0.2, 0.5, 0.3};
  m.stds = {0.3, 0.7, 1.2};
  std::vector<float> mu = randn(Shape({3, 16}), 11).to_vector();
  for (int k = 0; k < 3; ++k)
    m.means.emplace_back(mu.begin() + 16 * k, mu.begin() + 16 * (k + 1));
  for (auto& row : m.means)
    for (double& v : row) v *= 2.0;
  return m;
}

// Points near the noised mixture a x_0 + s z, rounded to multiples of 2^-10 so that x +- h with
// h = 2^-12 is exact in float32 (|x| < 2^13 keeps 24 mantissa bits enough).
Tensor noised_points(const GaussianMixture& m, int64_t n, double a, double s, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> x0 = m.sample(n, gen).to_vector();
  std::vector<float> z = randn(Shape({n, m.dim()}), gen).to_vector();
  for (size_t i = 0; i < x0.size(); ++i)
    x0[i] = std::round((a * x0[i] + s * z[i]) * 1024.0) / 1024.0;
  return from_data(x0, {n, m.dim()});
}

TEST(GaussianMixture, ScoreIsGradientOfLogDensity) {
  // Central difference of the double log density with an exact float step h = 2^-12. Truncation
  // error ~(h / w)^2 relative, w ~ v / |mu_i - mu_j| >= 0.25 / 3 the width over which the
  // responsibilities switch, i.e. <= 1e-5; the float32 score adds ~1e-7 relative.
  const double h = 1.0 / 4096, tol = 2e-4;
  const std::vector<std::pair<double, double>> as = {{1.0, 0.0}, {0.9, 0.3}, {0.6, 0.8},
                                                     {0.2, 1.0}};
  for (const GaussianMixture& m : {GaussianMixture::ring8(), mixture16()}) {
    const int64_t d = m.dim();
    for (auto [a, s] : as) {
      Tensor x = noised_points(m, 6, a, s, 3);
      std::vector<float> g = m.score(x, {a}, {s}).to_vector(), xv = x.to_vector();
      for (int64_t i = 0; i < 6; ++i) {
        for (int64_t j = 0; j < d; ++j) {
          std::vector<float> xp(xv.begin() + i * d, xv.begin() + (i + 1) * d), xm = xp;
          xp[j] += static_cast<float>(h);
          xm[j] -= static_cast<float>(h);
          const double fd = (m.log_density(from_data(xp, {1, d}), a, s)[0] -
                             m.log_density(from_data(xm, {1, d}), a, s)[0]) / (2 * h);
          EXPECT_NEAR(g[i * d + j], fd, tol * std::max(1.0, std::fabs(fd)))
              << "D=" << d << " a=" << a << " s=" << s << " row " << i << " dim " << j;
        }
      }
    }
  }
}

TEST(GaussianMixture, LogDensityHandValuesAndStability) {
  // One standard normal in 2-D at x = 0: log p = -log(2 pi). Noised with a = 0.6, s = 0.8 it is
  // N(0, (0.36 + 0.64) I) again, so the value is unchanged; at x = (1, 0) it drops by 1/2.
  GaussianMixture m{{1.0}, {{0.0, 0.0}}, {1.0}};
  const double log2pi = std::log(2 * std::acos(-1.0));
  EXPECT_NEAR(m.log_density(zeros({1, 2}), 1.0, 0.0)[0], -log2pi, 1e-12);
  EXPECT_NEAR(m.log_density(from_data({1, 0}, {1, 2}), 0.6, 0.8)[0], -log2pi - 0.5, 1e-12);
  // Far from every ring component the responsibilities underflow without log-sum-exp; here the
  // nearest mean (4, 0) dominates and the score is (4 - 1000) / 0.25 in x, 0 in y.
  GaussianMixture ring = GaussianMixture::ring8();
  std::vector<float> g = ring.score(from_data({1000, 0}, {1, 2}), {1.0}, {0.0}).to_vector();
  EXPECT_NEAR(g[0], (4.0 - 1000.0) / 0.25, 1e-2);
  EXPECT_NEAR(g[1], 0.0, 1e-3);
  EXPECT_TRUE(std::isfinite(ring.log_density(from_data({1000, 0}, {1, 2}), 1.0, 0.0)[0]));
}

// For a single Gaussian x_0 ~ N(m, s0^2 I) and x_t = a x_0 + s z, (x_0, x_t) is jointly Gaussian
// with Cov(x_0, x_t) = a s0^2 I and Var(x_t) = (a^2 s0^2 + s^2) I, so
//   E[x_0 | x_t = x] = m + a s0^2 / (a^2 s0^2 + s^2) (x - a m).
// Tweedie (Denoiser::denoise) must give exactly this, at several times of a batch.
TEST(MixtureDenoiser, TweedieMatchesGaussianPosteriorMean) {
  const int64_t d = 16;
  std::vector<float> mv = randn(Shape({d}), 5).to_vector();
  GaussianMixture g{{1.0}, {std::vector<double>(mv.begin(), mv.end())}, {0.7}};
  for (auto process : {diffusion::make_process("vp"), diffusion::make_process("ddpm-linear"),
                       diffusion::make_process("ve")}) {
    MixtureDenoiser den(g, process);
    const std::vector<float> times = {0.01f, 0.2f, 0.45f, 0.7f};
    Tensor t = from_data(times, {4});
    Tensor x = randn(Shape({4, d}), 9) * 2.0f;
    std::vector<float> got = den.denoise(x, t).to_vector(), xv = x.to_vector();
    for (int b = 0; b < 4; ++b) {
      const double a = process->alpha(times[b]), s = process->sigma(times[b]), s0 = 0.7;
      for (int64_t j = 0; j < d; ++j) {
        const double want = mv[j] + a * s0 * s0 / (a * a * s0 * s0 + s * s) * (xv[b * d + j] - a * mv[j]);
        // float32 path (x - sigma eps) / alpha: relative error ~1e-7 * sigma / alpha <= 1e-5 here.
        EXPECT_NEAR(got[b * d + j], want, 1e-4 * (1 + std::fabs(want)))
            << process->name() << " t=" << times[b];
      }
    }
  }
}

TEST(MixtureDenoiser, PosteriorMeanIsTweedie) {
  // E[x_0 | x_t] = (x_t + s^2 score) / a for any mixture, per-sample a and s.
  GaussianMixture m = mixture16();
  const std::vector<double> a = {0.95, 0.7, 0.4}, s = {0.3, 0.7, 0.9};
  Tensor x = noised_points(m, 3, 0.7, 0.7, 4);
  std::vector<float> pm = m.posterior_mean(x, a, s).to_vector(), g = m.score(x, a, s).to_vector(),
                     xv = x.to_vector();
  for (int b = 0; b < 3; ++b)
    for (int j = 0; j < 16; ++j) {
      const double want = (xv[b * 16 + j] + s[b] * s[b] * g[b * 16 + j]) / a[b];
      EXPECT_NEAR(pm[b * 16 + j], want, 1e-4 * (1 + std::fabs(want)));
    }
  // And the Denoiser built on a process agrees with both (score and denoise).
  auto vp = diffusion::make_process("vp");
  MixtureDenoiser den(m, vp);
  Tensor t = from_data({0.1f, 0.3f, 0.5f}, {3});
  std::vector<double> at, st;
  for (float tt : t.to_vector()) at.push_back(vp->alpha(tt)), st.push_back(vp->sigma(tt));
  test::expect_near_all(den.score(x, t).to_vector(), m.score(x, at, st).to_vector(), 1e-4f);
  std::vector<float> dn = den.denoise(x, t).to_vector(), pm2 = m.posterior_mean(x, at, st).to_vector();
  for (size_t i = 0; i < dn.size(); ++i) EXPECT_NEAR(dn[i], pm2[i], 1e-4 * (1 + std::fabs(pm2[i])));
}

TEST(MixtureDenoiser, ScoreBackwardIsHessian) {
  // The backward of mixture_score is the Hessian of log p_t; check it by finite differences,
  // with per-sample a, s, and on a non-contiguous x. a and s keep v_k >= 0.3 so the score is
  // smooth on the scale of the gradcheck step.
  GaussianMixture ring = GaussianMixture::ring8();
  Tensor x = noised_points(ring, 4, 0.9, 0.6, 7);
  x.requires_grad_();
  const std::vector<double> a = {0.9, 0.8, 0.7, 0.5}, s = {0.6, 0.7, 0.8, 0.9};
  EXPECT_TRUE(grad_ok(gradcheck("mixture_score", [&](auto in) { return ring.score(in[0], a, s); },
                                {x})));
  GaussianMixture m4{{0.3, 0.7}, {{0, 1, 0, -1}, {1.5, 0, -1, 0.5}}, {0.8, 1.0}};
  Tensor xr = test::param_transposed({3, 4}, 8);  // [3, 4], 3 rows of D = 4, non-contiguous
  ASSERT_FALSE(xr.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("mixture_score", [&](auto in) { return m4.score(in[0], {0.9}, {0.7}); },
                                {xr})));
  // Through the Denoiser: eps = -sigma score is differentiable in x too.
  MixtureDenoiser den(m4, diffusion::make_process("vp"));
  Tensor t = from_data({0.2f, 0.4f, 0.6f}, {3});
  EXPECT_TRUE(grad_ok(gradcheck("mixture_score", [&](auto in) { return den.eps(in[0], t); }, {xr})));
}

TEST(GaussianMixture, SampleMoments) {
  // ring8: mean 0, covariance (0.5^2 + 4^2 / 2) I = 8.25 I (E[cos^2] = 1/2).
  // n = 20000: SE of the mean sqrt(8.25 / n) = 0.02; SE of a variance ~sqrt((m4 - 8.25^2) / n)
  // with m4 ~ 108 (4^4 * 3/8 + cross terms), ~0.045. Tolerances are ~5 SE.
  GaussianMixture ring = GaussianMixture::ring8();
  const int64_t n = 20000;
  Generator gen(21);
  Tensor x = ring.sample(n, gen);
  ASSERT_EQ(x.shape(), Shape({n, 2}));
  std::vector<float> mu = mean(x, {0}).to_vector(), v = var(x, {0}).to_vector();
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(mu[j], 0.0, 0.1);
    EXPECT_NEAR(v[j], 8.25, 0.25);
  }
  // sample() draws its components first with the same generator: standardised by their own
  // component, the rows are N(0, I) (SE of the mean 1/sqrt(2n) per coordinate pooled).
  GaussianMixture m = mixture16();
  Generator g1(33), g2(33);
  const std::vector<int64_t> comp = m.sample_components(4000, g2);
  std::vector<float> xs = m.sample(4000, g1).to_vector();
  double s1 = 0, s2 = 0;
  for (int64_t i = 0; i < 4000; ++i)
    for (int j = 0; j < 16; ++j) {
      const double z = (xs[i * 16 + j] - m.means[comp[i]][j]) / m.stds[comp[i]];
      s1 += z, s2 += z * z;
    }
  const double cnt = 4000.0 * 16;
  EXPECT_NEAR(s1 / cnt, 0.0, 5 / std::sqrt(cnt));
  EXPECT_NEAR(s2 / cnt, 1.0, 5 * std::sqrt(2 / cnt));
  // Component frequencies within 5 binomial SE of the weights.
  std::vector<double> freq(3);
  for (int64_t c : comp) freq[c] += 1.0 / 4000;
  for (int k = 0; k < 3; ++k)
    EXPECT_NEAR(freq[k], m.weights[k], 5 * std::sqrt(m.weights[k] * (1 - m.weights[k]) / 4000));
}

TEST(GaussianMixture, AssignFindsOwnMeans) {
  GaussianMixture ring = GaussianMixture::ring8();
  std::vector<float> mu;
  for (const auto& row : ring.means) mu.insert(mu.end(), row.begin(), row.end());
  const std::vector<int64_t> k = ring.assign(from_data(mu, {8, 2}));
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(k[i], i);
  EXPECT_NEAR(ring.means[2][1], 4.0, 1e-12);  // component 2 sits at angle pi/2
}

TEST(Denoiser, ConversionsRoundTrip) {
  Tensor x = randn(Shape({3, 2, 2, 2}), 1), eps = randn(Shape({3, 2, 2, 2}), 2);
  auto vp = diffusion::make_process("vp");
  Tensor t = from_data({0.1f, 0.5f, 0.9f}, {3});
  Tensor a = diffusion::per_sample(t, x, &diffusion::Process::alpha, *vp);
  Tensor s = diffusion::per_sample(t, x, &diffusion::Process::sigma, *vp);
  ASSERT_EQ(a.shape(), Shape({3, 1, 1, 1}));
  EXPECT_NEAR(a.to_vector()[1], vp->alpha(0.5), 1e-7);
  Tensor x0 = diffusion::eps_to_x0(x, eps, a, s);
  test::expect_near_all(diffusion::x0_to_eps(x, x0, a, s).to_vector(), eps.to_vector(), 1e-4f);
  test::expect_near_all((a * x0 + s * eps).to_vector(), x.to_vector(), 1e-5f);
  test::expect_near_all(diffusion::score_to_eps(diffusion::eps_to_score(eps, s), s).to_vector(),
                        eps.to_vector(), 1e-5f);
  // score = -eps / sigma by hand: eps 0.5 at sigma 0.25 -> -2.
  EXPECT_NEAR(diffusion::eps_to_score(full({1}, 0.5f), full({1}, 0.25f)).item(), -2.0f, 0);
  test::expect_near_all(diffusion::time_batch(3, 0.25).to_vector(), {0.25f, 0.25f, 0.25f}, 0);
}

TEST(GaussianMixture, Errors) {
  GaussianMixture bad{{0.5, 0.4}, {{0, 0}, {1, 1}}, {1, 1}};
  expect_error([&] { bad.validate(); }, {"weights sum to", "0.9"});
  GaussianMixture dims{{0.5, 0.5}, {{0, 0}, {1, 1, 1}}, {1, 1}};
  expect_error([&] { dims.validate(); }, {"mean 1", "3 values"});
  GaussianMixture neg{{1.0}, {{0, 0}}, {-1}};
  expect_error([&] { neg.validate(); }, {"std 0", "not positive"});
  GaussianMixture ring = GaussianMixture::ring8();
  expect_error([&] { ring.score(zeros({4, 3}), {1.0}, {0.5}); }, {"mixture_score", "[4, 3]", "D = 2"});
  expect_error([&] { ring.score(zeros({4, 2}), {1.0, 1.0}, {0.5}); }, {"mixture_score", "a has 2"});
  MixtureDenoiser den(ring, diffusion::make_process("vp"));
  expect_error([&] { den.eps(zeros({4, 2}), zeros({3})); }, {"MixtureDenoiser", "[3]", "[4, 2]"});
}

}  // namespace
}  // namespace mindiff
