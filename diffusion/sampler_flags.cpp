// The table of sampler flags (sampler_flags.h).
#include "diffusion/sampler_flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace mindiff::diffusion {

namespace {

enum class Kind {
  Positive,      // a number > 0
  NonNegative,   // a number >= 0
  Count,         // an integer >= 0
  AutoPositive,  // "auto" (the sampler's rule) or a number > 0
  AutoCount,     // "auto" or an integer >= minimum
  Walk,          // "auto", "overdamped" or "underdamped"
};

struct SamplerFlag {
  const char* name;
  Kind kind;
  double SamplerOptions::*real;  // the option it sets (a double ...)
  int SamplerOptions::*count;    // ... or an int
  int minimum;                   // AutoCount: the smallest integer allowed
  const char* help;
};

const std::vector<SamplerFlag>& table() {
  using O = SamplerOptions;
  static const std::vector<SamplerFlag> flags = {
      {"snr", Kind::Positive, &O::snr, nullptr, 0,
       "pc: the Langevin corrector's signal-to-noise ratio"},
      {"corrector-steps", Kind::Count, nullptr, &O::corrector_steps, 0,
       "pc: Langevin corrections after each predictor step"},
      {"rtol", Kind::Positive, &O::rtol, nullptr, 0, "ode-rk45: relative tolerance"},
      {"atol", Kind::Positive, &O::atol, nullptr, 0, "ode-rk45: absolute tolerance"},
      {"rho", Kind::Positive, &O::rho, nullptr, 0,
       "edm-*, stochastic-localization: spacing of the noise levels (Karras et al. eq. 5)"},
      {"s-churn", Kind::AutoPositive, &O::s_churn, nullptr, 0,
       "edm-stochastic: total churn S_churn (edm-heun is S_churn = 0)"},
      {"s-tmin", Kind::NonNegative, &O::s_tmin, nullptr, 0,
       "edm-stochastic: churn only at levels >= this"},
      {"s-tmax", Kind::NonNegative, &O::s_tmax, nullptr, 0,
       "edm-stochastic: churn only at levels <= this"},
      {"s-noise", Kind::Positive, &O::s_noise, nullptr, 0,
       "edm-stochastic: scale of the churn noise"},
      {"walk", Kind::Walk, nullptr, nullptr, 0,
       "Langevin family: overdamped or underdamped (kinetic) chains"},
      {"step-size", Kind::AutoPositive, &O::step_size, nullptr, 0,
       "Langevin family: the step gamma of y + gamma grad log q + sqrt(2 gamma) z (overdamped; "
       "annealed-langevin: at the smallest level, NCSN's eps = 2 gamma), or the time step h "
       "(underdamped)"},
      {"friction", Kind::AutoPositive, &O::friction, nullptr, 0,
       "Langevin family, underdamped: the velocity's friction"},
      {"sigma", Kind::AutoPositive, &O::sigma, nullptr, 0,
       "langevin, mala, walk-jump: the noise level of the walk; multi-measurement, jms: of each "
       "measurement"},
      {"measurements", Kind::AutoCount, nullptr, &O::measurements, 1,
       "multi-measurement, jms: the number of measurements m"},
      {"measurement-steps", Kind::AutoCount, nullptr, &O::measurement_steps, 1,
       "multi-measurement: Langevin steps for each measurement after the first (--steps: the "
       "first)"},
      {"levels", Kind::AutoCount, nullptr, &O::levels, 2,
       "annealed-langevin: the number of noise levels"},
      {"sigma-max", Kind::AutoPositive, &O::sigma_max, nullptr, 0,
       "annealed-langevin, stochastic-localization: the largest noise level"},
      {"sigma-min", Kind::AutoPositive, &O::sigma_min, nullptr, 0,
       "annealed-langevin, stochastic-localization: the smallest noise level"},
  };
  return flags;
}

bool is_auto(Kind k) { return k == Kind::AutoPositive || k == Kind::AutoCount || k == Kind::Walk; }

std::string text_of(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

bool parse_finite_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size() && std::isfinite(out);
}

void add_sampler_flags(Flags& flags) {
  const SamplerOptions defaults;
  for (const SamplerFlag& f : table()) {
    const std::string help =
        std::string(f.help) + (is_auto(f.kind) ? " (auto: the sampler's rule)" : "");
    if (is_auto(f.kind))
      flags.add_string(f.name, "auto", help);
    else if (f.kind == Kind::Count)
      flags.add_int(f.name, defaults.*(f.count), help);
    else
      flags.add_float(f.name, defaults.*(f.real), help);
  }
}

void read_sampler_flags(const Flags& flags, SamplerOptions& o) {
  for (const SamplerFlag& f : table()) {
    const std::string flag = std::string("--") + f.name;
    switch (f.kind) {
      case Kind::Positive:
      case Kind::NonNegative: {
        const double v = flags.get_float(f.name);
        MD_CHECK(f.kind == Kind::Positive ? v > 0 : v >= 0, flag, " ", v, ": must be ",
                 f.kind == Kind::Positive ? "> 0" : ">= 0");
        o.*(f.real) = v;
        break;
      }
      case Kind::Count: {
        const int64_t v = flags.get_int(f.name);
        MD_CHECK(v >= 0 && v <= 1000000, flag, " ", v, ": must be an integer in [0, 1000000]");
        o.*(f.count) = static_cast<int>(v);
        break;
      }
      case Kind::Walk: {
        const std::string v = flags.get_string(f.name);
        if (v != "auto") {
          MD_CHECK(v == "overdamped" || v == "underdamped", flag, " ", v,
                   ": must be auto, overdamped or underdamped");
          o.walk = parse_walk(v);
        }
        break;
      }
      case Kind::AutoPositive:
      case Kind::AutoCount: {
        const std::string v = flags.get_string(f.name);
        if (v == "auto") break;
        double x = 0;
        if (f.kind == Kind::AutoPositive) {
          MD_CHECK(parse_finite_number(v, x) && x > 0, flag, " ", v,
                   ": must be a number > 0 (or auto)");
          o.*(f.real) = x;
        } else {
          MD_CHECK(
              parse_finite_number(v, x) && x == std::floor(x) && x >= f.minimum && x <= 1000000,
              flag, " ", v, ": must be an integer in [", f.minimum, ", 1000000] (or auto)");
          o.*(f.count) = static_cast<int>(x);
        }
        break;
      }
    }
  }
  MD_CHECK(o.s_tmin <= o.s_tmax, "--s-tmin ", text_of(o.s_tmin), " exceeds --s-tmax ",
           text_of(o.s_tmax));
  MD_CHECK(o.sigma_min == 0 || o.sigma_max == 0 || o.sigma_min < o.sigma_max, "--sigma-min ",
           text_of(o.sigma_min), " must be below --sigma-max ", text_of(o.sigma_max));
}

}  // namespace mindiff::diffusion
