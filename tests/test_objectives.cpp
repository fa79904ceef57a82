// Training objectives and NetworkDenoiser: the exact (mixture-derived) model has a lower loss than
// perturbed ones for every parameterisation, gradients reach a network's parameters, time and
// label draws have the stated distributions, and NetworkDenoiser converts and guides exactly.
#include <cmath>

#include "diffusion/gmm.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/objectives.h"
#include "nn/mlp.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using diffusion::GaussianMixture;
using diffusion::MixtureDenoiser;
using diffusion::ModelFn;
using diffusion::NetworkDenoiser;
using diffusion::Objective;
using diffusion::Parameterization;
using diffusion::Process;
using test::expect_error;
using test::grad_ok;
constexpr int64_t kNoClass = nn::ClassEmbedding::kNoClass;

// The times t [B] a network was given net [B] for: network_time is affine in t for every
// process but EDM's (250 ln t), and the edm parameterisation gives 250 ln(sigma / alpha).
Tensor times_from_net(const Process& p, const Parameterization& kind, const Tensor& net) {
  std::vector<float> v = net.to_vector();
  if (kind.kind == Parameterization::kEdm || p.name() == "edm") {
    for (float& x : v) x = static_cast<float>(p.t_of_noise_ratio(std::exp(x / 250.0)));
    return from_data(v, net.shape());
  }
  const double n0 = p.network_time(p.t_min()), n1 = p.network_time(p.t_max());
  for (float& x : v) x = static_cast<float>(p.t_min() + (x - n0) * (p.t_max() - p.t_min()) / (n1 - n0));
  return from_data(v, net.shape());
}

// The exact network of each parameterisation, from the mixture's noised score: the formulas of
// parameterization.h written out again here, from the exact eps and x_0 = E[x_0 | x_t].
ModelFn exact_model(std::shared_ptr<const MixtureDenoiser> den, Parameterization kind) {
  return [den, kind](const Tensor& in, const Tensor& net, const std::vector<int64_t>&) {
    const Process& p = den->process();
    const Tensor t = times_from_net(p, kind, net);
    const double sd = kind.sigma_data;
    // [B, 1] coefficients of the test's 2-D points.
    auto coef = [&](auto fn) {
      std::vector<float> tv = t.to_vector(), c;
      for (float time : tv) c.push_back(static_cast<float>(fn(p.alpha(time), p.sigma(time))));
      return from_data(c, Shape({t.size(0), 1}));
    };
    // The edm network is given x_t / sqrt(sigma^2 + alpha^2 sd^2).
    const Tensor x = kind.kind != Parameterization::kEdm
                         ? in
                         : in * coef([&](double a, double s) { return std::sqrt(s * s + a * a * sd * sd); });
    switch (kind.kind) {
      case Parameterization::kEps: return den->eps(x, t);
      case Parameterization::kX0: return den->denoise(x, t);
      case Parameterization::kScore: return den->score(x, t);
      case Parameterization::kV:
        return coef([](double a, double) { return a; }) * den->eps(x, t) -
               coef([](double, double s) { return s; }) * den->denoise(x, t);
      case Parameterization::kEdm: {
        // F = (x_0 - c_skip x / alpha) / c_out at r = sigma / alpha.
        const Tensor skip = coef([&](double a, double s) {
          const double r = s / a;
          return sd * sd / (r * r + sd * sd) / a;
        });
        const Tensor out = coef([&](double a, double s) {
          const double r = s / a;
          return r * sd / std::sqrt(r * r + sd * sd);
        });
        return (den->denoise(x, t) - skip * x) / out;
      }
    }
    return Tensor();
  };
}

ModelFn perturbed(ModelFn m, float scale, float offset) {
  return [m, scale, offset](const Tensor& x, const Tensor& net, const std::vector<int64_t>& l) {
    return m(x, net, l) * scale + offset;
  };
}

// The conditional expectation minimises each squared loss, so on the same draws (same seed:
// same times and noise) any perturbation of the exact model raises the loss. Scaling the output
// by 0.9 gains 0.01 E[F^2] while the cross term 0.2 E[F (F - target)] that could hide it is
// noise of standard error 0.2 sqrt(E[F^2] Var(target | x_t) / n). EDM's target has unit
// variance of which little is predictable (E[F^2] ~ 0.2 against ~0.8), which 2000 draws could not
// resolve (the gain about 1.5 SE); 20000 draws put every case at 4 SE or more.
TEST(Objectives, ExactModelHasLowestLoss) {
  const GaussianMixture ring = GaussianMixture::ring8();
  Generator data_gen(1);
  const Tensor x0 = ring.sample(20000, data_gen);
  struct Case {
    std::string process;
    Parameterization kind;
    std::vector<double> sigmas;
  };
  const std::vector<Case> cases = {
      {"vp", Parameterization::kEps, {}},          {"ddpm-linear", Parameterization::kEps, {}},
      {"vp", Parameterization::kX0, {}},           {"ou", Parameterization::kX0, {}},
      {"vp", Parameterization::kScore, {}},        {"ve", Parameterization::kScore, {0.5, 1.0, 2.0}},
      {"ddpm-cosine", Parameterization::kEps, {}}, {"vp", Parameterization::kV, {}},
      {"ddpm-cosine", Parameterization::kV, {}},   {"edm", Parameterization::kEps, {}},
      // edm with sigma_data = 2.9, the ring's per-coordinate standard deviation (sqrt(4^2 / 2 +
      // 0.5^2)), as a user would set it, and with EDM's 0.5 for images.
      {"edm", {Parameterization::kEdm, 2.9}, {}},  {"vp", {Parameterization::kEdm, 2.9}, {}},
      {"edm", Parameterization::kEdm, {}},
  };
  for (const Case& c : cases) {
    auto process = diffusion::make_process(c.process);
    auto den = std::make_shared<const MixtureDenoiser>(ring, process);
    Objective obj;
    obj.kind = c.kind;
    obj.sigmas = c.sigmas;
    const ModelFn exact = exact_model(den, c.kind);
    auto loss = [&](const ModelFn& m) {
      Generator gen(42);  // the same draws for every model
      NoGradGuard ng;
      return diffusion::diffusion_loss(m, x0, {}, *process, obj, gen).item();
    };
    const float l0 = loss(exact);
    EXPECT_TRUE(std::isfinite(l0));
    for (auto [scale, offset] : std::vector<std::pair<float, float>>{{1.1f, 0}, {0.9f, 0}, {1, 0.1f}, {1, -0.1f}})
      EXPECT_LT(l0, loss(perturbed(exact, scale, offset)))
          << c.process << " " << diffusion::parameterization_name(c.kind) << " scale " << scale
          << " offset " << offset;
  }
}

TEST(Objectives, HandValueOfEachLoss) {
  // A model that outputs 0 on fixed draws: eps loss = mean z^2, x0 loss = mean x0^2, score loss
  // = mean_b |z_b|^2 / 2 (sigma * 0 + z). With z = 1 everywhere, x0 = 2, B = 2, D = 3: 1, 4, 1.5.
  auto vp = diffusion::make_process("vp");
  ModelFn zero = [](const Tensor& x, const Tensor&, const std::vector<int64_t>&) { return zeros_like(x); };
  const Tensor x0 = full({2, 3}, 2.0f), z = ones({2, 3}), t = from_data({0.3f, 0.6f}, {2});
  Objective o;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *vp, o, t, z).item(), 1.0f);
  o.kind = Parameterization::kX0;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *vp, o, t, z).item(), 4.0f);
  o.kind = Parameterization::kScore;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *vp, o, t, z).item(), 1.5f);
}

TEST(Objectives, HandValueOfNewLosses) {
  // On the EDM process (alpha = 1, sigma = t), with x0 = 2, z = 1 and a model that outputs 0:
  ModelFn zero = [](const Tensor& x, const Tensor&, const std::vector<int64_t>&) { return zeros_like(x); };
  auto edm = diffusion::make_process("edm");
  const Tensor x0 = full({2, 3}, 2.0f), z = ones({2, 3}), t = from_data({0.5f, 2.0f}, {2});
  Objective o;
  // edm, sd = 0.5: at t = 0.5, c_skip = 0.25 / 0.5 = 0.5, c_out = 0.25 / sqrt(0.5), x = 2.5,
  // target (2 - 1.25) / c_out = 1.5 sqrt(2), squared 4.5; at t = 2, c_skip = 0.25 / 4.25,
  // c_out = 1 / sqrt(4.25), x = 4, target (2 - 1 / 4.25) sqrt(4.25) = 7.5 / sqrt(4.25),
  // squared 56.25 / 4.25. The loss is their mean.
  o.kind = Parameterization::kEdm;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *edm, o, t, z).item(),
                  static_cast<float>((4.5 + 56.25 / 4.25) / 2));
  // min-SNR-gamma with gamma = 1, SNR = 1 / t^2 = 4 and 1/4: eps weights min(SNR, 1) / SNR =
  // 1/4 and 1 on a per-sample mse of 1 -> 0.625; x0 weights min(SNR, 1) = 1 and 1/4 on an mse
  // of 4 -> 2.5.
  o.min_snr_gamma = 1.0;
  o.kind = Parameterization::kEps;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *edm, o, t, z).item(), 0.625f);
  o.kind = Parameterization::kX0;
  EXPECT_FLOAT_EQ(diffusion::diffusion_loss_at(zero, x0, {}, *edm, o, t, z).item(), 2.5f);
  // v on the OU process (alpha = e^-t, sigma = sqrt(1 - e^-2t)): target alpha - 2 sigma per
  // element; with gamma = 1 the weight is min(SNR, 1) / (SNR + 1), SNR = alpha^2 / sigma^2.
  auto ou = diffusion::make_process("ou");
  const Tensor tou = from_data({0.2f, 1.0f}, {2});
  double want = 0, want_weighted = 0;
  for (double time : {0.2, 1.0}) {
    const double a = std::exp(-time), s = std::sqrt(1 - std::exp(-2 * time)), snr = a * a / (s * s);
    want += (a - 2 * s) * (a - 2 * s) / 2;
    want_weighted += std::min(snr, 1.0) / (snr + 1) * (a - 2 * s) * (a - 2 * s) / 2;
  }
  o.kind = Parameterization::kV;
  o.min_snr_gamma = 0;
  EXPECT_NEAR(diffusion::diffusion_loss_at(zero, x0, {}, *ou, o, tou, z).item(), want, 1e-6 * want);
  o.min_snr_gamma = 1;
  EXPECT_NEAR(diffusion::diffusion_loss_at(zero, x0, {}, *ou, o, tou, z).item(), want_weighted,
              1e-6 * want_weighted);
  // Refused: min-SNR on the score and edm objectives, v on a process that is not VP.
  o.kind = Parameterization::kEdm;
  expect_error([&] { diffusion::diffusion_loss_at(zero, x0, {}, *edm, o, t, z); },
               {"min-SNR", "edm"});
  o.kind = Parameterization::kV;
  o.min_snr_gamma = 0;
  expect_error([&] { diffusion::diffusion_loss_at(zero, x0, {}, *edm, o, t, z); },
               {"objective v", "variance-preserving", "'edm'"});
}

TEST(Objectives, EveryParameterizationInvertsItsTarget) {
  // A network that outputs exactly its regression target gives back the noise z as eps, for
  // every parameterisation and process where it applies: training and sampling agree on what
  // the output means. Float rounding of x_t (|x| ~ 4) divided by sigma >= 0.01 bounds the error.
  constexpr float kTol = 2e-3f;
  const GaussianMixture ring = GaussianMixture::ring8();
  Generator gen(7);
  const Tensor x0 = ring.sample(64, gen), z = randn(Shape({64, 2}), gen);
  for (const char* name : {"ddpm-linear", "vp", "ve", "ou", "edm"}) {
    auto process = diffusion::make_process(name);
    const Tensor t = diffusion::sample_train_times(64, *process, Objective(), gen);
    const Tensor xt = diffusion::per_sample(t, x0, &Process::alpha, *process) * x0 +
                      diffusion::per_sample(t, x0, &Process::sigma, *process) * z;
    for (auto kind : {Parameterization::kEps, Parameterization::kX0, Parameterization::kScore,
                      Parameterization::kV, Parameterization::kEdm}) {
      if (kind == Parameterization::kV && (std::string(name) == "ve" || std::string(name) == "edm"))
        continue;
      const Tensor target = diffusion::regression_target(kind, *process, x0, z, xt, t);
      const Tensor eps = diffusion::output_to_eps(kind, *process, xt, t, target);
      test::expect_near_all(eps.to_vector(), z.to_vector(), kTol);
    }
  }
}

TEST(Objectives, GradientReachesModelParameters) {
  // A linear model out = w * x_t + b, w [1, 2], b [1, 2]: gradcheck of each loss w.r.t. w, b.
  auto vp = diffusion::make_process("vp");
  Generator gen(3);
  const Tensor x0 = GaussianMixture::ring8().sample(6, gen), z = randn(Shape({6, 2}), gen);
  const Tensor t = from_data({0.1f, 0.2f, 0.4f, 0.6f, 0.8f, 0.95f}, {6});
  Tensor w = test::param({1, 2}, 4), b = test::param({1, 2}, 5);
  for (auto [kind, op] : std::vector<std::pair<Parameterization, const char*>>{
           {Parameterization::kEps, "mse_loss"}, {Parameterization::kX0, "mse_loss"},
           {Parameterization::kScore, "square"}}) {
    Objective o;
    o.kind = kind;
    auto f = [&](const std::vector<Tensor>& in) {
      ModelFn m = [&](const Tensor& x, const Tensor&, const std::vector<int64_t>&) { return in[0] * x + in[1]; };
      return diffusion::diffusion_loss_at(m, x0, {}, *vp, o, t, z);
    };
    EXPECT_TRUE(grad_ok(gradcheck(op, f, {w, b}))) << diffusion::parameterization_name(kind);
  }
  // Through a small ScoreMLP with labels: every parameter receives a finite gradient, and the
  // output layer's is nonzero.
  nn::MLPConfig cfg;
  cfg.hidden = 16;
  cfg.layers = 1;
  cfg.num_classes = 3;
  Generator init(9);
  nn::ScoreMLP net(cfg, init);
  ModelFn m = [&](const Tensor& x, const Tensor& nt, const std::vector<int64_t>& l) { return net.forward(x, nt, l); };
  Objective o;
  o.p_uncond = 0.5;
  Generator g2(10);
  diffusion::diffusion_loss(m, x0, {0, 1, 2, 0, 1, 2}, *vp, o, g2).backward();
  double total = 0;
  for (const Tensor& p : net.parameters()) {
    ASSERT_TRUE(p.grad().defined());
    for (float v : p.grad().to_vector()) {
      ASSERT_TRUE(std::isfinite(v));
      total += std::fabs(v);
    }
  }
  EXPECT_GT(total, 0.0);
}

TEST(Objectives, LabelDropoutRate) {
  // Each label is dropped independently with probability p: the dropped fraction of n = 20000 is
  // within 5 binomial SE sqrt(p (1 - p) / n) of p; kept labels are unchanged.
  const int64_t n = 20000;
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = i % 10;
  for (double p : {0.1, 0.3}) {
    Generator gen(17);
    const std::vector<int64_t> out = diffusion::drop_labels(labels, p, gen);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (out[i] == kNoClass) ++dropped;
      else EXPECT_EQ(out[i], labels[i]);
    }
    EXPECT_NEAR(static_cast<double>(dropped) / n, p, 5 * std::sqrt(p * (1 - p) / n)) << "p " << p;
  }
  Generator gen(1);
  EXPECT_EQ(diffusion::drop_labels(labels, 0.0, gen), labels);
  EXPECT_EQ(diffusion::drop_labels(labels, 1.0, gen), std::vector<int64_t>(n, kNoClass));
  EXPECT_TRUE(diffusion::drop_labels({}, 0.5, gen).empty());
  expect_error([&] { diffusion::drop_labels(labels, 1.5, gen); }, {"p_uncond", "1.5"});
  // diffusion_loss hands the dropped labels to the model.
  std::vector<int64_t> seen;
  ModelFn spy = [&](const Tensor& x, const Tensor&, const std::vector<int64_t>& l) {
    seen = l;
    return zeros_like(x);
  };
  Objective o;
  o.p_uncond = 0.25;
  std::vector<int64_t> lab(4000, 2);
  diffusion::diffusion_loss(spy, zeros({4000, 2}), lab, *diffusion::make_process("vp"), o, gen);
  ASSERT_EQ(seen.size(), 4000u);
  const double frac = std::count(seen.begin(), seen.end(), kNoClass) / 4000.0;
  EXPECT_NEAR(frac, 0.25, 5 * std::sqrt(0.25 * 0.75 / 4000));
}

TEST(Objectives, TrainingTimes) {
  // DDPM (N = 10): integer steps, each with frequency 1/10 within 5 SE (n = 5000).
  auto ddpm = diffusion::DiscreteDDPM::linear(10);
  Generator gen(5);
  std::vector<float> t = diffusion::sample_train_times(5000, *ddpm, Objective(), gen).to_vector();
  std::vector<int> count(10);
  for (float v : t) {
    const double step = ddpm->network_time(v);
    ASSERT_NEAR(step, std::round(step), 1e-4);
    ASSERT_GE(step, -1e-4);
    ASSERT_LE(step, 9 + 1e-4);
    ++count[static_cast<int>(std::round(step))];
  }
  for (int c : count) EXPECT_NEAR(c / 5000.0, 0.1, 5 * std::sqrt(0.09 / 5000));
  // Continuous: uniform on [t_min, t_max] (mean within 5 SE, SE = (hi - lo) / sqrt(12 n)), and a
  // custom range.
  auto vp = diffusion::make_process("vp");
  Objective o;
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{{-1, -1}, {0.2, 0.4}}) {
    o.t_min = lo, o.t_max = hi;
    const double a = lo < 0 ? vp->t_min() : lo, b = hi < 0 ? vp->t_max() : hi;
    std::vector<float> tc = diffusion::sample_train_times(5000, *vp, o, gen).to_vector();
    double m = 0;
    for (float v : tc) {
      ASSERT_GE(v, a - 1e-6);
      ASSERT_LE(v, b + 1e-6);
      m += v / 5000.0;
    }
    EXPECT_NEAR(m, (a + b) / 2, 5 * (b - a) / std::sqrt(12 * 5000.0));
  }
  // EDM: ln t ~ N(P_mean, P_std^2): mean and std of ln t within 5 SE (n = 5000; SE of the mean
  // P_std / sqrt(n), of the std P_std / sqrt(2 n)).
  auto edm = diffusion::make_process("edm");
  Objective lognormal;
  lognormal.p_mean = -1.0;
  lognormal.p_std = 0.8;
  std::vector<float> te = diffusion::sample_train_times(5000, *edm, lognormal, gen).to_vector();
  double lm = 0, lv = 0;
  for (float v : te) lm += std::log(v) / 5000.0;
  for (float v : te) lv += (std::log(v) - lm) * (std::log(v) - lm) / 4999.0;
  EXPECT_NEAR(lm, -1.0, 5 * 0.8 / std::sqrt(5000.0));
  EXPECT_NEAR(std::sqrt(lv), 0.8, 5 * 0.8 / std::sqrt(2 * 5000.0));
  // NCSN levels on VE: x_t = x_0 + sigma z with sigma one of the levels.
  auto ve = diffusion::make_process("ve");
  Objective ncsn;
  ncsn.kind = Parameterization::kScore;
  ncsn.sigmas = diffusion::geometric_sigmas(10.0, 0.1, 3);  // 10, 1, 0.1
  EXPECT_NEAR(ncsn.sigmas[1], 1.0, 1e-12);
  const Tensor x0 = randn(Shape({300, 2}), 1);
  const Tensor z = randn(Shape({300, 2}), 2);
  const Tensor tl = diffusion::sample_train_times(300, *ve, ncsn, gen);
  Tensor xt_seen;
  ModelFn spy = [&](const Tensor& x, const Tensor&, const std::vector<int64_t>&) {
    xt_seen = x;
    return zeros_like(x);
  };
  diffusion::diffusion_loss_at(spy, x0, {}, *ve, ncsn, tl, z);
  std::vector<float> xs = xt_seen.to_vector(), xv = x0.to_vector(), zv = z.to_vector();
  std::vector<int> per_level(3);
  for (int64_t b = 0; b < 300; ++b) {
    const double s = (xs[2 * b] - xv[2 * b]) / zv[2 * b];
    int hit = -1;
    for (int l = 0; l < 3; ++l)
      if (std::fabs(s - ncsn.sigmas[l]) < 1e-3 * ncsn.sigmas[l] + 1e-4 / std::fabs(zv[2 * b])) hit = l;
    ASSERT_GE(hit, 0) << "sample " << b << " has sigma " << s;
    ++per_level[hit];
  }
  for (int c : per_level) EXPECT_GT(c, 60);  // each level ~100 of 300 (binomial SE ~8)
}

TEST(NetworkDenoiser, ExactModelReproducesMixtureDenoiser) {
  const GaussianMixture ring = GaussianMixture::ring8();
  for (const char* name : {"vp", "ddpm-linear", "ou"}) {
    auto process = diffusion::make_process(name);
    auto den = std::make_shared<const MixtureDenoiser>(ring, process);
    Generator gen(2);
    const Tensor x = ring.sample(16, gen) * 0.8f;
    const Tensor t = diffusion::sample_train_times(16, *process, Objective(), gen);
    const std::vector<float> want = den->eps(x, t).to_vector();
    for (Parameterization kind : {Parameterization::kEps, Parameterization::kX0,
                                  Parameterization::kScore, Parameterization::kV,
                                  Parameterization::kEdm}) {
      NetworkDenoiser net(exact_model(den, kind), kind, process);
      // x0 -> eps divides by sigma (>= 0.01 at t_min): float rounding of x, alpha x0 ~1e-6 grows
      // to ~1e-4 there; edm's F divides by c_out ~ sigma once more before eps is formed.
      const float tol = kind.kind == Parameterization::kEdm ? 1e-3f : 2e-4f;
      test::expect_near_all(net.eps(x, t).to_vector(), want, tol);
    }
  }
}

TEST(NetworkDenoiser, ClassifierFreeGuidance) {
  // Fake model: 3 for any class, 1 for kNoClass. eps = (1 + w) 3 - w 1 = 3 + 2w: 7 at w = 2,
  // 3 at w = 0, 2 at w = -1/2.
  ModelFn fake = [](const Tensor& x, const Tensor&, const std::vector<int64_t>& l) {
    std::vector<float> v(x.numel());
    const int64_t per = x.numel() / x.size(0);
    for (int64_t b = 0; b < x.size(0); ++b)
      for (int64_t j = 0; j < per; ++j) v[b * per + j] = l.at(b) == kNoClass ? 1.0f : 3.0f;
    return from_data(v, x.shape());
  };
  auto vp = diffusion::make_process("vp");
  const Tensor x = zeros({2, 3}), t = diffusion::time_batch(2, 0.5);
  NetworkDenoiser net(fake, Parameterization::kEps, vp, {4}, 2.0);
  test::expect_near_all(net.eps(x, t).to_vector(), std::vector<float>(6, 7.0f), 0);
  net.set_guidance(0.0);
  test::expect_near_all(net.eps(x, t).to_vector(), std::vector<float>(6, 3.0f), 0);
  net.set_guidance(-0.5);
  net.set_labels({1, 2});
  test::expect_near_all(net.eps(x, t).to_vector(), std::vector<float>(6, 2.0f), 0);
  // Errors: guidance without labels, a label count that fits no batch, a wrong output shape.
  expect_error([&] { NetworkDenoiser(fake, Parameterization::kEps, vp, {}, 1.0); },
               {"guidance", "labels"});
  net.set_labels({1, 2, 0});
  expect_error([&] { net.eps(x, t); }, {"NetworkDenoiser", "3 labels", "batch of 2"});
  ModelFn bad = [](const Tensor&, const Tensor&, const std::vector<int64_t>&) { return zeros({2, 2}); };
  expect_error([&] { NetworkDenoiser(bad, Parameterization::kEps, vp).eps(x, t); },
               {"NetworkDenoiser", "[2, 2]", "[2, 3]"});
  expect_error([] { diffusion::parse_parameterization("velocity"); },
               {"'velocity'", "eps", "x0", "score", "v", "edm"});
  // v needs a variance-preserving process.
  expect_error([&] { NetworkDenoiser(fake, Parameterization::kV, diffusion::make_process("ve")); },
               {"objective v", "variance-preserving", "'ve'"});
}

}  // namespace
}  // namespace mindiff
