// Forward processes: the scalar functions alpha, sigma, f, g of process.h.
//
// Every process satisfies the two relations of a linear forward SDE dx = f x dt + g dW whose
// marginal is x_t = alpha x_0 + sigma z (Berner, general linear forward SDEs):
//   f = alpha' / alpha,     g^2 = d(sigma^2)/dt - 2 f sigma^2,
// which is the moment ODE d/dt Var = 2 f Var + g^2 of the SDE applied to Var = sigma^2 (for x_0 = 0).
// The closed forms below are those relations worked out per process (Song et al. 2021, eqs. 25-29).
#include "diffusion/process.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace mindiff::diffusion {

// ---- Process: default inverse of sigma ----

namespace {
// The t in [lo, hi] where the increasing function v(t) equals `target`, by bisection: the root is
// unique, and 200 halvings take any interval below double resolution (the loop stops earlier
// once the bracket stops shrinking). `what` names the caller for the out-of-range error.
template <class F>
double invert_increasing(const Process& p, const char* what, F v, double target) {
  double lo = p.t_min(), hi = p.t_max();
  const double v_lo = v(lo), v_hi = v(hi);
  // Relative slack for the end points, so that inverting v(t_max()) works after rounding.
  const double slack = 1e-12 * v_hi;
  MD_CHECK(target >= v_lo - slack && target <= v_hi + slack, p.name(), ": ", what, ": noise level ",
           target, " is outside [", v_lo, ", ", v_hi, "] (the process's t_min to t_max)");
  if (target <= v_lo) return lo;
  if (target >= v_hi) return hi;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (v(mid) < target) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}
}  // namespace

double Process::t_of_sigma(double s) const {
  return invert_increasing(*this, "t_of_sigma", [this](double t) { return sigma(t); }, s);
}

double Process::t_of_noise_ratio(double r) const {
  return invert_increasing(*this, "t_of_noise_ratio", [this](double t) { return noise_ratio(t); },
                           r);
}

// ---- DiscreteDDPM ----

std::shared_ptr<DiscreteDDPM> DiscreteDDPM::linear(int steps, double beta_start, double beta_end) {
  MD_CHECK(steps > 0, "ddpm-linear: steps must be positive, got ", steps);
  MD_CHECK(beta_start > 0 && beta_end < 1 && beta_start <= beta_end,
           "ddpm-linear: need 0 < beta_start <= beta_end < 1, got beta_start ", beta_start,
           ", beta_end ", beta_end);
  // Ho et al. 2020: betas evenly spaced from beta_start to beta_end (both included).
  std::vector<double> betas(steps);
  for (int n = 0; n < steps; ++n)
    betas[n] = steps == 1 ? beta_start
                          : beta_start + (beta_end - beta_start) * n / (steps - 1.0);
  return std::make_shared<DiscreteDDPM>("ddpm-linear", std::move(betas));
}

std::shared_ptr<DiscreteDDPM> DiscreteDDPM::cosine(int steps, double s, double shift) {
  MD_CHECK(steps > 0, "ddpm-cosine: steps must be positive, got ", steps);
  MD_CHECK(s >= 0, "ddpm-cosine: offset s must be >= 0, got ", s);
  MD_CHECK(shift > 0 && std::isfinite(shift), "ddpm-cosine-shifted: the resolution ratio must be "
           "positive, got ", shift);
  // Nichol & Dhariwal 2021, eq. 17: alpha_bar(t) = h(t) / h(0), h(t) = cos^2((t + s)/(1 + s) pi/2),
  // beta_n = 1 - alpha_bar(n/N) / alpha_bar((n-1)/N), clipped at 0.999 so the last steps (where
  // alpha_bar -> 0) stay finite. alpha_bar_n is then the product of (1 - beta), as for any DDPM.
  // Shifted (Hoogeboom, Heek & Salimans 2023, sec. 3.1): log SNR(t) + 2 ln(shift), that is
  // alpha_bar -> alpha_bar shift^2 / (alpha_bar shift^2 + 1 - alpha_bar), with shift the ratio of
  // the resolution the schedule was made for (64) to the data's: below 1 more noise, above less.
  const double pi = std::acos(-1.0), r2 = shift * shift;
  auto h = [&](double t) {
    const double c = std::cos((t + s) / (1.0 + s) * pi / 2.0);
    return c * c;
  };
  // Up to the constant h(0), which cancels in the ratios below when there is no shift.
  auto alpha_bar = [&](double t) {
    if (shift == 1.0) return h(t);
    const double ab = h(t) / h(0.0);
    return ab * r2 / (ab * r2 + 1.0 - ab);
  };
  std::vector<double> betas(steps);
  for (int n = 1; n <= steps; ++n)
    betas[n - 1] = std::min(1.0 - alpha_bar(static_cast<double>(n) / steps) /
                                      alpha_bar(static_cast<double>(n - 1) / steps),
                            0.999);
  std::ostringstream name;
  name << "ddpm-cosine";
  if (shift != 1.0) name << "-shifted:" << shift;
  return std::make_shared<DiscreteDDPM>(name.str(), std::move(betas));
}

DiscreteDDPM::DiscreteDDPM(std::string name, std::vector<double> betas)
    : name_(std::move(name)), betas_(std::move(betas)) {
  MD_CHECK(!betas_.empty(), name_, ": steps must be positive, got 0 betas");
  alphas_bar_.resize(betas_.size());
  double prod = 1.0;
  for (size_t n = 0; n < betas_.size(); ++n) {
    MD_CHECK(betas_[n] > 0 && betas_[n] < 1, name_, ": beta ", n, " = ", betas_[n],
             " is outside (0, 1)");
    prod *= 1.0 - betas_[n];
    alphas_bar_[n] = prod;
  }
}

namespace {
// The continuous extension of a DDPM: L(t) = log alpha_bar(t) is piecewise linear through the
// knots (0, 0), (1/N, log alpha_bar_0), ..., (1, log alpha_bar_{N-1}). Segment k spans
// [k/N, (k+1)/N] and has slope N log(1 - beta_k). Times outside [0, 1] extend the end segments.
struct Segment {
  double value;  // L(t)
  double slope;  // L'(t) (from the right at a knot; the left neighbour's slope at t = 1)
};
Segment log_alpha_bar(const std::vector<double>& betas, const std::vector<double>& alphas_bar,
                      double t) {
  const int steps = static_cast<int>(betas.size());
  const double pos = t * steps;
  const int k = std::clamp(static_cast<int>(std::floor(pos)), 0, steps - 1);
  const double start = k == 0 ? 0.0 : std::log(alphas_bar[k - 1]);
  const double slope = steps * std::log1p(-betas[k]);
  return {start + (pos - k) * slope / steps, slope};
}
}  // namespace

// alpha = sqrt(alpha_bar) = exp(L/2); sigma = sqrt(1 - exp(L)) (expm1 keeps small t accurate).
double DiscreteDDPM::alpha(double t) const {
  return std::exp(0.5 * log_alpha_bar(betas_, alphas_bar_, t).value);
}
double DiscreteDDPM::sigma(double t) const {
  return std::sqrt(std::max(0.0, -std::expm1(log_alpha_bar(betas_, alphas_bar_, t).value)));
}
// f = alpha'/alpha = L'/2. g^2 = d(1 - e^L)/dt - 2 (L'/2)(1 - e^L) = -L' e^L - L' + L' e^L = -L':
// a VP process whose beta(t) = -L'(t) = -N log(1 - beta_k) is constant on each segment.
double DiscreteDDPM::drift(double t) const {
  return 0.5 * log_alpha_bar(betas_, alphas_bar_, t).slope;
}
double DiscreteDDPM::diffusion(double t) const {
  return std::sqrt(-log_alpha_bar(betas_, alphas_bar_, t).slope);
}

// ---- VP and sub-VP (Song et al. 2021, eqs. 25-29) ----

VPSDE::VPSDE(double beta_min, double beta_max, double t_min)
    : beta_min_(beta_min), beta_max_(beta_max), t_min_(t_min) {
  MD_CHECK(beta_min > 0 && beta_min <= beta_max, "vp: need 0 < beta_min <= beta_max, got beta_min ",
           beta_min, ", beta_max ", beta_max);
  MD_CHECK(t_min > 0 && t_min < 1, "vp: t_min must be in (0, 1), got ", t_min);
}
// int_0^t (beta_min + s (beta_max - beta_min)) ds
double VPSDE::integral_beta(double t) const {
  return beta_min_ * t + 0.5 * (beta_max_ - beta_min_) * t * t;
}
// alpha = exp(-int beta / 2), sigma^2 = 1 - exp(-int beta); f = -beta/2, g^2 = beta.
double VPSDE::alpha(double t) const { return std::exp(-0.5 * integral_beta(t)); }
double VPSDE::sigma(double t) const { return std::sqrt(-std::expm1(-integral_beta(t))); }
double VPSDE::drift(double t) const { return -0.5 * (beta_min_ + t * (beta_max_ - beta_min_)); }
double VPSDE::diffusion(double t) const { return std::sqrt(beta_min_ + t * (beta_max_ - beta_min_)); }

// sub-VP: sigma = 1 - exp(-B), B = int beta. With f = -beta/2:
// g^2 = 2 sigma sigma' + beta sigma^2 = beta (1 - e^-B)(2 e^-B + 1 - e^-B) = beta (1 - e^{-2B}).
double SubVPSDE::sigma(double t) const { return -std::expm1(-integral_beta(t)); }
double SubVPSDE::diffusion(double t) const {
  const double beta = beta_min_ + t * (beta_max_ - beta_min_);
  return std::sqrt(-beta * std::expm1(-2.0 * integral_beta(t)));
}

// ---- VE (Song et al. 2021, eq. 30; NCSN's geometric noise levels) ----

VESDE::VESDE(double sigma_min, double sigma_max) : sigma_min_(sigma_min), sigma_max_(sigma_max) {
  MD_CHECK(sigma_min > 0 && sigma_min < sigma_max,
           "ve: need 0 < sigma_min < sigma_max, got sigma_min ", sigma_min, ", sigma_max ",
           sigma_max);
}
double VESDE::sigma(double t) const { return sigma_min_ * std::pow(sigma_max_ / sigma_min_, t); }
// d(sigma^2)/dt = 2 ln(sigma_max/sigma_min) sigma^2 and f = 0.
double VESDE::diffusion(double t) const {
  return sigma(t) * std::sqrt(2.0 * std::log(sigma_max_ / sigma_min_));
}
// sigma_min r^t = s  =>  t = ln(s / sigma_min) / ln r.
double VESDE::t_of_sigma(double s) const {
  const double slack = 1e-12 * sigma_max_;
  MD_CHECK(s >= sigma_min_ - slack && s <= sigma_max_ + slack,
           "ve: t_of_sigma: noise level ", s, " is outside [sigma_min, sigma_max] = [", sigma_min_,
           ", ", sigma_max_, "]");
  const double t = std::log(s / sigma_min_) / std::log(sigma_max_ / sigma_min_);
  return std::clamp(t, 0.0, 1.0);
}

// ---- Ornstein-Uhlenbeck (Peyre, sec. on the forward flow) ----

OrnsteinUhlenbeck::OrnsteinUhlenbeck(double horizon, double t_min)
    : horizon_(horizon), t_min_(t_min) {
  MD_CHECK(t_min > 0 && t_min < horizon, "ou: need 0 < t_min < horizon, got t_min ", t_min,
           ", horizon ", horizon);
}
// dX = -X dt + sqrt(2) dW: alpha = e^-t, sigma^2 = 1 - e^{-2t}; g^2 = 2 e^{-2t} + 2 (1 - e^{-2t}) = 2.
double OrnsteinUhlenbeck::alpha(double t) const { return std::exp(-t); }
double OrnsteinUhlenbeck::sigma(double t) const { return std::sqrt(-std::expm1(-2.0 * t)); }
double OrnsteinUhlenbeck::diffusion(double) const { return std::sqrt(2.0); }

// ---- EDM (Karras et al. 2022: sigma(t) = t, s(t) = 1) ----

EDMProcess::EDMProcess(double sigma_min, double sigma_max)
    : sigma_min_(sigma_min), sigma_max_(sigma_max) {
  MD_CHECK(sigma_min > 0 && sigma_min < sigma_max,
           "edm: need 0 < sigma_min < sigma_max, got sigma_min ", sigma_min, ", sigma_max ",
           sigma_max);
}
double EDMProcess::diffusion(double t) const { return std::sqrt(2.0 * t); }
double EDMProcess::network_time(double t) const { return 250.0 * std::log(t); }
// sigma(t) = t: the inverse is the identity on [sigma_min, sigma_max].
double EDMProcess::t_of_sigma(double s) const {
  const double slack = 1e-12 * sigma_max_;
  MD_CHECK(s >= sigma_min_ - slack && s <= sigma_max_ + slack, "edm: t_of_sigma: noise level ", s,
           " is outside [sigma_min, sigma_max] = [", sigma_min_, ", ", sigma_max_, "]");
  return std::clamp(s, sigma_min_, sigma_max_);
}

// ---- by name ----

std::shared_ptr<Process> make_process(const std::string& name) {
  if (name == "ddpm-linear") return DiscreteDDPM::linear();
  if (name == "ddpm-cosine") return DiscreteDDPM::cosine();
  const std::string shifted = "ddpm-cosine-shifted:";
  if (name.compare(0, shifted.size(), shifted) == 0) {
    std::istringstream in(name.substr(shifted.size()));
    double ratio = 0;
    MD_CHECK((in >> ratio) && in.eof(), "process ", name, ": expected ", shifted,
             "R with R the resolution ratio, e.g. ddpm-cosine-shifted:0.5");
    return DiscreteDDPM::cosine(1000, 0.008, ratio);
  }
  if (name == "vp") return std::make_shared<VPSDE>();
  if (name == "subvp") return std::make_shared<SubVPSDE>();
  if (name == "ve") return std::make_shared<VESDE>();
  if (name == "ou") return std::make_shared<OrnsteinUhlenbeck>();
  if (name == "edm") return std::make_shared<EDMProcess>();
  MD_CHECK(false, "unknown process '", name,
           "'; known processes: ddpm-linear, ddpm-cosine, ddpm-cosine-shifted:R, vp, subvp, ve, ou, edm");
  return nullptr;
}

}  // namespace mindiff::diffusion
