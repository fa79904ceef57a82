// Forward processes: hand values, the linear-SDE relations f = alpha'/alpha and
// g^2 = d(sigma^2)/dt - 2 f sigma^2 by finite differences, the moment ODE of the marginal
// variance, DDPM vs VP agreement, the sigma inverse, and parameter errors.
#include <cmath>
#include <functional>

#include "diffusion/process.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using diffusion::EDMProcess;
using diffusion::DiscreteDDPM;
using diffusion::OrnsteinUhlenbeck;
using diffusion::Process;
using diffusion::SubVPSDE;
using diffusion::VESDE;
using diffusion::VPSDE;
using test::expect_error;

// Every process with the times at which its derivatives are checked. DDPM alpha/sigma have kinks
// at the grid times n/N, so their check times are segment midpoints.
struct Case {
  std::shared_ptr<Process> process;
  std::vector<double> times;
};

std::vector<double> segment_midpoints(int steps, std::initializer_list<int> ks) {
  std::vector<double> out;
  for (int k : ks) out.push_back((k + 0.5) / steps);
  return out;
}

std::vector<Case> all_cases() {
  const std::vector<double> unit = {2e-3, 0.05, 0.1, 0.37, 0.5, 0.8, 0.99};
  return {
      {DiscreteDDPM::linear(), segment_midpoints(1000, {0, 1, 10, 250, 500, 998, 999})},
      {DiscreteDDPM::linear(10), segment_midpoints(10, {0, 3, 9})},
      {DiscreteDDPM::cosine(), segment_midpoints(1000, {0, 5, 400, 900, 990})},
      {std::make_shared<VPSDE>(), unit},
      {std::make_shared<SubVPSDE>(), unit},
      {std::make_shared<VESDE>(), {0.0 + 1e-3, 0.1, 0.37, 0.5, 0.8, 0.99}},
      {std::make_shared<OrnsteinUhlenbeck>(), {2e-3, 0.05, 0.5, 1.3, 2.7, 4.9}},
      {DiscreteDDPM::cosine(1000, 0.008, 0.5), segment_midpoints(1000, {0, 5, 400, 900})},
      // EDM: sigma(t) = t from 0.002 to 80; t = 0.002 + 1e-6 stays inside for the differences.
      {std::make_shared<EDMProcess>(), {0.002 + 1e-5, 0.01, 0.3, 1.0, 7.0, 79.0}},
  };
}

TEST(Process, HandValues) {
  // VP(0.1, 20): int_0^1 beta = 0.1 + 19.9 / 2 = 10.05, so alpha(1) = exp(-(0.1/2 + 19.9/4)),
  // sigma(1)^2 = 1 - exp(-10.05); beta(0.5) = 0.1 + 19.9 / 2 = 10.05, f(0.5) = -5.025.
  VPSDE vp;
  EXPECT_NEAR(vp.alpha(1.0), std::exp(-(0.1 / 2 + 19.9 / 4)), 1e-15);
  EXPECT_NEAR(vp.sigma(1.0), std::sqrt(1 - std::exp(-10.05)), 1e-15);
  EXPECT_NEAR(vp.drift(0.5), -5.025, 1e-12);
  EXPECT_NEAR(vp.diffusion(0.0), std::sqrt(0.1), 1e-15);
  EXPECT_DOUBLE_EQ(vp.alpha(0.0), 1.0);
  // sub-VP shares alpha; sigma(1) = 1 - exp(-10.05); g(1)^2 = 20 (1 - exp(-20.1)).
  SubVPSDE subvp;
  EXPECT_NEAR(subvp.sigma(1.0), 1 - std::exp(-10.05), 1e-15);
  EXPECT_NEAR(subvp.diffusion(1.0), std::sqrt(20 * (1 - std::exp(-20.1))), 1e-12);
  // VE(0.01, 50): sigma(1/2) = sqrt(0.01 * 50) = sqrt(0.5); g(0) = 0.01 sqrt(2 ln 5000).
  VESDE ve;
  EXPECT_NEAR(ve.sigma(0.5), std::sqrt(0.5), 1e-14);
  EXPECT_NEAR(ve.diffusion(0.0), 0.01 * std::sqrt(2 * std::log(5000.0)), 1e-15);
  EXPECT_EQ(ve.prior_std(), 50.0);
  // OU: alpha(1) = 1/e, sigma(1)^2 = 1 - e^-2, g = sqrt(2).
  OrnsteinUhlenbeck ou;
  EXPECT_NEAR(ou.alpha(1.0), std::exp(-1.0), 1e-15);
  EXPECT_NEAR(ou.sigma(1.0), std::sqrt(1 - std::exp(-2.0)), 1e-15);
  EXPECT_LT(ou.alpha(ou.t_max()), 0.007);
}

TEST(Process, DDPMLinearAlphaBar) {
  auto ddpm = DiscreteDDPM::linear();
  ASSERT_EQ(ddpm->steps(), 1000);
  EXPECT_DOUBLE_EQ(ddpm->betas().front(), 1e-4);
  EXPECT_NEAR(ddpm->betas().back(), 0.02, 1e-15);
  // alpha_bar_999 by a plain product of (1 - beta_n), beta_n = 1e-4 + (0.02 - 1e-4) n / 999.
  double prod = 1.0;
  for (int n = 0; n < 1000; ++n) prod *= 1.0 - (1e-4 + (0.02 - 1e-4) * n / 999.0);
  EXPECT_NEAR(ddpm->alphas_bar().back(), prod, 1e-12 * prod);
  EXPECT_NEAR(prod, 4.04e-5, 0.01e-5);  // the well-known value for this schedule
  // On the grid: alpha(t_n)^2 = alpha_bar_n, sigma^2 = 1 - alpha_bar_n; alpha(0) = 1, and the
  // network sees step n at t_n.
  for (int n : {0, 1, 17, 500, 999}) {
    const double t = ddpm->time_of_step(n), ab = ddpm->alphas_bar()[n];
    EXPECT_NEAR(ddpm->alpha(t) * ddpm->alpha(t), ab, 1e-12);
    EXPECT_NEAR(ddpm->sigma(t) * ddpm->sigma(t), 1 - ab, 1e-12);
    EXPECT_NEAR(ddpm->network_time(t), n, 1e-9);
  }
  EXPECT_DOUBLE_EQ(ddpm->alpha(0.0), 1.0);
  EXPECT_DOUBLE_EQ(ddpm->sigma(0.0), 0.0);
}

TEST(Process, DDPMCosineSchedule) {
  auto ddpm = DiscreteDDPM::cosine();
  const double s = 0.008, pi = std::acos(-1.0);
  auto h = [&](double t) { return std::pow(std::cos((t + s) / (1 + s) * pi / 2), 2); };
  // Before any clipping, alpha_bar_n telescopes to h(t_n) / h(0).
  for (int n : {0, 10, 500, 900}) {
    const double want = h((n + 1) / 1000.0) / h(0.0);
    EXPECT_NEAR(ddpm->alphas_bar()[n], want, 1e-10 * want) << "step " << n;
  }
  // h(1) = 0 makes the last ratio 0, i.e. beta = 1, which the clip turns into 0.999.
  EXPECT_EQ(ddpm->betas().back(), 0.999);
  for (double b : ddpm->betas()) EXPECT_LE(b, 0.999);
  // Shifted by R = 0.5 (Hoogeboom et al.): log SNR moves by 2 ln 0.5 at every step before the
  // clip, so alpha_bar / (1 - alpha_bar) is a quarter of the unshifted one's.
  auto shifted = DiscreteDDPM::cosine(1000, 0.008, 0.5);
  EXPECT_EQ(shifted->name(), "ddpm-cosine-shifted:0.5");
  for (int n : {0, 10, 500, 900}) {
    const double a = ddpm->alphas_bar()[n], b = shifted->alphas_bar()[n];
    EXPECT_NEAR(std::log(b / (1 - b)) - std::log(a / (1 - a)), 2 * std::log(0.5), 1e-8) << n;
  }
}

// f = (log alpha)' and g^2 = (sigma^2)' - 2 f sigma^2 by central differences, for every process.
TEST(Process, DriftAndDiffusionMatchFiniteDifferences) {
  // h = 1e-6: truncation error ~h^2 |f''| ~ 1e-12 relative; rounding ~1e-16 / h = 1e-10 relative.
  // Tolerance 1e-6 relative leaves room for the steep VE sigma^2 and still catches any wrong factor.
  const double h = 1e-6, rel = 1e-6;
  for (const Case& c : all_cases()) {
    const Process& p = *c.process;
    for (double t : c.times) {
      const double f_num = (std::log(p.alpha(t + h)) - std::log(p.alpha(t - h))) / (2 * h);
      const double s2 = p.sigma(t) * p.sigma(t);
      const double ds2 = (std::pow(p.sigma(t + h), 2) - std::pow(p.sigma(t - h), 2)) / (2 * h);
      const double g2_num = ds2 - 2 * f_num * s2;
      EXPECT_NEAR(p.drift(t), f_num, 1e-9 + rel * std::fabs(f_num)) << p.name() << " t=" << t;
      const double g = p.diffusion(t);
      EXPECT_NEAR(g * g, g2_num, 1e-9 + rel * std::fabs(g2_num)) << p.name() << " t=" << t;
    }
  }
}

// For x_0 ~ N(0, v0), the SDE dx = f x dt + g dW keeps Var(x_t) = alpha^2 v0 + sigma^2, and
// Var obeys d/dt Var = 2 f Var + g^2. Integrate that ODE with RK4 from f and g alone over the
// whole time range and compare with the closed form.
TEST(Process, MarginalVarianceSolvesMomentODE) {
  const double v0 = 0.49;
  for (const Case& c : all_cases()) {
    const Process& p = *c.process;
    auto var = [&](double t) { return std::pow(p.alpha(t), 2) * v0 + std::pow(p.sigma(t), 2); };
    auto rhs = [&](double t, double v) {
      return 2 * p.drift(t) * v + std::pow(p.diffusion(t), 2);
    };
    // 4000 steps; for DDPM the steps align with its grid (N divides 4000) so f, g are constant
    // within a step. The last RK4 stage is taken a hair before t + dt so that it sees the
    // segment the step lies in, not the next one (f jumps at DDPM grid points).
    const double t0 = p.t_min(), t1 = p.t_max();
    const int steps = 4000;
    const double dt = (t1 - t0) / steps;
    double v = var(t0);
    for (int i = 0; i < steps; ++i) {
      const double t = t0 + i * dt;
      const double k1 = rhs(t, v), k2 = rhs(t + dt / 2, v + dt / 2 * k1);
      const double k3 = rhs(t + dt / 2, v + dt / 2 * k2), k4 = rhs(t + dt * (1 - 1e-9), v + dt * k3);
      v += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
    }
    // RK4 error ~dt^4 |rate|^5 ~ 1e-9 relative here (rates up to ~20 for VP at t = 1, ~17 for VE).
    EXPECT_NEAR(v, var(t1), 1e-6 * var(t1)) << p.name();
  }
}

// The linear DDPM with N = 1000 is the Euler discretisation of VP(0.1, 20): beta_n ~ beta(t_n)/N.
// Their log alpha_bar differ by the second-order term sum beta_i^2 / 2 (from log(1 - b) = -b -
// b^2/2 - ...; 0.067 at the last step) plus the grid mismatch of sum_i beta_i against int beta,
// at most ~beta_max / N / 2 = 0.01. The bound is computed from the schedule itself. In alpha_bar
// this is at most ~0.07 * alpha_bar * (1 - alpha_bar)-sized: below 2e-3 (the largest gap is ~8e-4).
TEST(Process, DDPMLinearAgreesWithVP) {
  auto ddpm = DiscreteDDPM::linear();
  VPSDE vp(0.1, 20.0);
  double sum_b2 = 0;
  for (double b : ddpm->betas()) sum_b2 += b * b;
  const double bound = sum_b2 / 2 + 0.01;  // ~0.077
  for (int n = 0; n < 1000; n += 37) {
    const double t = ddpm->time_of_step(n);
    const double log_ab_ddpm = 2 * std::log(ddpm->alpha(t)), log_ab_vp = 2 * std::log(vp.alpha(t));
    EXPECT_NEAR(log_ab_ddpm, log_ab_vp, bound) << "step " << n;
    EXPECT_NEAR(std::exp(log_ab_ddpm), std::exp(log_ab_vp), 2e-3) << "step " << n;
  }
}

TEST(Process, TOfSigmaInvertsSigma) {
  for (const Case& c : all_cases()) {
    const Process& p = *c.process;
    for (double t : c.times) {
      if (t < p.t_min() || t > p.t_max()) continue;
      EXPECT_NEAR(p.t_of_sigma(p.sigma(t)), t, 1e-9) << p.name();
    }
    EXPECT_NEAR(p.t_of_sigma(p.sigma(p.t_max())), p.t_max(), 1e-9) << p.name();
    EXPECT_NEAR(p.t_of_sigma(p.sigma(p.t_min())), p.t_min(), 1e-9) << p.name();
    expect_error([&] { p.t_of_sigma(p.sigma(p.t_max()) * 1.01 + 0.01); },
                 {p.name(), "t_of_sigma", "outside"});
  }
  // VE closed form: sigma = 0.01 * 5000^t = 1 at t = ln(100) / ln(5000).
  EXPECT_NEAR(VESDE().t_of_sigma(1.0), std::log(100.0) / std::log(5000.0), 1e-15);
}

TEST(Process, MakeProcessByName) {
  for (const char* name : {"ddpm-linear", "ddpm-cosine", "ddpm-cosine-shifted:0.25", "vp", "subvp",
                           "ve", "ou", "edm"})
    EXPECT_EQ(diffusion::make_process(name)->name(), name);
  expect_error([] { diffusion::make_process("ddpm-cosine-shifted:x"); },
               {"ddpm-cosine-shifted:x", "resolution ratio"});
  expect_error([] { diffusion::make_process("vpp"); },
               {"unknown process", "vpp", "ddpm-linear", "ddpm-cosine", "subvp", "ve", "ou"});
}

TEST(Process, BadParameters) {
  expect_error([] { VESDE(50.0, 0.01); }, {"ve", "sigma_min", "sigma_max"});
  expect_error([] { VESDE(1.0, 1.0); }, {"ve", "sigma_min < sigma_max"});
  expect_error([] { DiscreteDDPM::linear(0); }, {"ddpm-linear", "steps", "0"});
  expect_error([] { DiscreteDDPM::cosine(-3); }, {"ddpm-cosine", "steps", "-3"});
  expect_error([] { DiscreteDDPM::linear(10, 0.1, 0.01); }, {"beta_start", "beta_end"});
  expect_error([] { DiscreteDDPM("mine", {}); }, {"mine", "steps"});
  expect_error([] { DiscreteDDPM("mine", {0.1, 1.0}); }, {"mine", "beta 1", "(0, 1)"});
  expect_error([] { VPSDE(0.1, 20.0, 0.0); }, {"vp", "t_min"});
  expect_error([] { VPSDE(20.0, 0.1); }, {"vp", "beta_min", "beta_max"});
  expect_error([] { OrnsteinUhlenbeck(1.0, 2.0); }, {"ou", "t_min", "horizon"});
}

}  // namespace
}  // namespace mindiff
