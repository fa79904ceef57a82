// The network's input, time and output under each parameterisation (formulas in the header).
#include "diffusion/parameterization.h"

#include <cmath>

#include "diffusion/denoiser.h"

namespace mindiff::diffusion {

Parameterization parse_parameterization(const std::string& name, double sigma_data) {
  MD_CHECK(std::isfinite(sigma_data) && sigma_data > 0, "sigma_data must be positive, got ",
           sigma_data);
  if (name == "eps") return {Parameterization::kEps, sigma_data};
  if (name == "x0") return {Parameterization::kX0, sigma_data};
  if (name == "score") return {Parameterization::kScore, sigma_data};
  if (name == "v") return {Parameterization::kV, sigma_data};
  if (name == "edm") return {Parameterization::kEdm, sigma_data};
  MD_CHECK(false, "unknown parameterisation '", name, "'; known: eps, x0, score, v, edm");
  return {};
}

std::string parameterization_name(const Parameterization& p) {
  switch (p.kind) {
    case Parameterization::kEps: return "eps";
    case Parameterization::kX0: return "x0";
    case Parameterization::kScore: return "score";
    case Parameterization::kV: return "v";
    case Parameterization::kEdm: return "edm";
  }
  return "?";
}

void check_parameterization(const Parameterization& p, const Process& process) {
  MD_CHECK(std::isfinite(p.sigma_data) && p.sigma_data > 0, "objective ",
           parameterization_name(p), ": sigma_data must be positive, got ", p.sigma_data);
  if (p.kind != Parameterization::kV) return;
  // v = alpha z - sigma x_0 inverts as above only when alpha^2 + sigma^2 = 1; checked at a few
  // times across the range (1e-6: far above rounding, far below any non-VP process's excess).
  constexpr double kVpTolerance = 1e-6;
  for (double u : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    const double t = process.t_min() + u * (process.t_max() - process.t_min());
    const double a = process.alpha(t), s = process.sigma(t);
    MD_CHECK(std::fabs(a * a + s * s - 1.0) < kVpTolerance, "objective v needs a "
             "variance-preserving process (alpha^2 + sigma^2 = 1), but process '", process.name(),
             "' has alpha^2 + sigma^2 = ", a * a + s * s, " at t = ", t,
             "; use ddpm-linear, ddpm-cosine, vp or ou, or --objective edm");
  }
}

namespace {
// EDM's s^2 + sd^2 with s = sigma / alpha, as a function of t.
double edm_total_var(const Process& process, double sd, double t) {
  const double s = process.noise_ratio(t);
  return s * s + sd * sd;
}
}  // namespace

Tensor network_times(const Parameterization& p, const Process& process, const Times& t,
                     Device device) {
  MD_CHECK(t.t.ndim() == 1, "network_times: times must be [B], got ", t.t.shape().str());
  auto value = [&](float time) {
    return static_cast<float>(p.kind == Parameterization::kEdm
                                  ? 250.0 * std::log(process.noise_ratio(time))
                                  : process.network_time(time));
  };
  if (t.same) return full(Shape({t.t.size(0)}), value(*t.same), device);  // one time: a fill
  std::vector<float> tv = t.t.to_vector(), net(tv.size());
  for (size_t b = 0; b < tv.size(); ++b) net[b] = value(tv[b]);
  return from_data(net, Shape({t.t.size(0)})).to(device);
}

Tensor network_input(const Parameterization& p, const Process& process, const Tensor& x,
                     const Times& t) {
  if (p.kind != Parameterization::kEdm) return x;
  // c_in x^ = x_t / (alpha sqrt(s^2 + sd^2)) = x_t / sqrt(sigma^2 + alpha^2 sd^2).
  const double sd = p.sigma_data;
  return x * per_sample_values(t, x, [&](double time) {
           const double a = process.alpha(time), s = process.sigma(time);
           return 1.0 / std::sqrt(s * s + a * a * sd * sd);
         });
}

Tensor output_to_eps(const Parameterization& p, const Process& process, const Tensor& x,
                     const Times& t, const Tensor& out) {
  auto alpha = [&] { return per_sample(t, x, &Process::alpha, process); };
  auto sigma = [&] { return per_sample(t, x, &Process::sigma, process); };
  switch (p.kind) {
    case Parameterization::kEps: return out;
    case Parameterization::kX0: return x0_to_eps(x, out, alpha(), sigma());
    case Parameterization::kScore: return score_to_eps(out, sigma());
    case Parameterization::kV: return sigma() * x + alpha() * out;  // eps = sigma x_t + alpha v
    case Parameterization::kEdm: {
      // eps = (x_t - alpha D) / sigma with D = c_skip x^ + c_out F, which works out to
      // eps = s / (alpha (s^2 + sd^2)) x_t - sd / sqrt(s^2 + sd^2) F.
      const double sd = p.sigma_data;
      const Tensor cx = per_sample_values(t, x, [&](double time) {
        return process.noise_ratio(time) / (process.alpha(time) * edm_total_var(process, sd, time));
      });
      const Tensor cf = per_sample_values(
          t, x, [&](double time) { return sd / std::sqrt(edm_total_var(process, sd, time)); });
      return cx * x - cf * out;
    }
  }
  return Tensor();
}

Tensor regression_target(const Parameterization& p, const Process& process, const Tensor& x0,
                         const Tensor& noise, const Tensor& x_t, const Tensor& t) {
  switch (p.kind) {
    case Parameterization::kEps: return noise;
    case Parameterization::kX0: return x0;
    case Parameterization::kScore: return -(noise / per_sample(t, x0, &Process::sigma, process));
    case Parameterization::kV:
      return per_sample(t, x0, &Process::alpha, process) * noise -
             per_sample(t, x0, &Process::sigma, process) * x0;
    case Parameterization::kEdm: {
      // F's target (x_0 - c_skip x^) / c_out with x^ = x_t / alpha.
      const double sd = p.sigma_data;
      const Tensor inv_out = per_sample_values(t, x0, [&](double time) {
        const double s = process.noise_ratio(time);
        return std::sqrt(s * s + sd * sd) / (s * sd);  // 1 / c_out
      });
      const Tensor skip = per_sample_values(t, x0, [&](double time) {
        return sd * sd / (edm_total_var(process, sd, time) * process.alpha(time));  // c_skip / alpha
      });
      return inv_out * (x0 - skip * x_t);
    }
  }
  return Tensor();
}

}  // namespace mindiff::diffusion
