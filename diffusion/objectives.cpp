// Training losses (formulas in objectives.h). Shapes: x_0 [B, ...], t [B], labels B or empty.
#include "diffusion/objectives.h"

#include <algorithm>
#include <cmath>

#include "diffusion/denoiser.h"
#include "nn/embedding.h"

namespace mindiff::diffusion {

std::vector<double> geometric_sigmas(double sigma_max, double sigma_min, int n) {
  MD_CHECK(n >= 2, "geometric_sigmas: need at least 2 levels, got ", n);
  MD_CHECK(sigma_min > 0 && sigma_min < sigma_max, "geometric_sigmas: need 0 < sigma_min < sigma_max, got ",
           sigma_min, " and ", sigma_max);
  // sigma_i = sigma_max (sigma_min / sigma_max)^(i / (n - 1)): equal ratios between neighbours.
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = sigma_max * std::pow(sigma_min / sigma_max, i / (n - 1.0));
  return out;
}

namespace {
// Index of one of `count` equally likely choices from u in (0, 1].
int64_t uniform_index(float u, int64_t count) {
  return std::clamp<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(u) * count)), 0,
                             count - 1);
}

// The rows of the whole batch, and this shard's uniforms from a draw for all of them.
int64_t global_rows(int64_t batch, const BatchShard& shard) {
  return shard.total > 0 ? shard.total : batch;
}
std::vector<float> draw_uniform(int64_t batch, Generator& gen, const BatchShard& shard) {
  return rand_rows(Shape({batch}), gen, shard.first, global_rows(batch, shard)).to_vector();
}

// The standard normal quantile Phi^{-1}(u) for u in (0, 1): Acklam's rational approximation
// (relative error below 1.2e-9, far below float rounding of the times it makes).
double inverse_normal_cdf(double u) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  constexpr double kLow = 0.02425;  // below it (and above 1 - kLow) the tail formula applies
  if (u < kLow) {
    const double q = std::sqrt(-2 * std::log(u));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (u > 1 - kLow) return -inverse_normal_cdf(1 - u);
  const double q = u - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// min-SNR-gamma's per-sample weight (objectives.h), SNR = alpha^2 / sigma^2 at time t.
double min_snr_weight(const Parameterization& p, const Process& process, double gamma, double t) {
  const double a = process.alpha(t), s = process.sigma(t);
  const double snr = a * a / (s * s), clipped = std::min(snr, gamma);
  switch (p.kind) {
    case Parameterization::kEps: return clipped / snr;
    case Parameterization::kX0: return clipped;
    case Parameterization::kV: return clipped / (snr + 1.0);
    default: return 1.0;
  }
}
}  // namespace

Tensor sample_train_times(int64_t batch, const Process& process, const Objective& objective,
                          Generator& gen, const BatchShard& shard) {
  MD_CHECK(batch >= 0, "sample_train_times: negative batch ", batch);
  const std::vector<float> u = draw_uniform(batch, gen, shard);
  std::vector<float> t(batch);
  if (!objective.sigmas.empty()) {
    // NCSN: one noise level per sample, uniformly; its time on the process.
    std::vector<double> level_t;
    for (double s : objective.sigmas) {
      MD_CHECK(s > 0, "diffusion loss: noise level ", s, " is not positive");
      level_t.push_back(process.t_of_sigma(s));
    }
    for (int64_t b = 0; b < batch; ++b)
      t[b] = static_cast<float>(level_t[uniform_index(u[b], static_cast<int64_t>(level_t.size()))]);
  } else if (dynamic_cast<const EDMProcess*>(&process)) {
    // EDM: ln t ~ N(P_mean, P_std^2) from the uniforms by the inverse normal CDF (so every
    // process takes one uniform per sample), clamped to the process's range.
    MD_CHECK(std::isfinite(objective.p_mean) && std::isfinite(objective.p_std) &&
                 objective.p_std > 0,
             "diffusion loss: the log-normal noise levels need a finite P_mean and P_std > 0, got ",
             objective.p_mean, " and ", objective.p_std);
    for (int64_t b = 0; b < batch; ++b) {
      const double z = inverse_normal_cdf(std::min(static_cast<double>(u[b]), 1.0 - 1e-7));
      t[b] = static_cast<float>(std::clamp(std::exp(objective.p_mean + objective.p_std * z),
                                           process.t_min(), process.t_max()));
    }
  } else if (const auto* ddpm = dynamic_cast<const DiscreteDDPM*>(&process)) {
    // DDPM: an integer step n ~ U{0..N-1}, at its grid time (n + 1) / N.
    for (int64_t b = 0; b < batch; ++b)
      t[b] = static_cast<float>(ddpm->time_of_step(static_cast<int>(uniform_index(u[b], ddpm->steps()))));
  } else {
    const double lo = objective.t_min < 0 ? process.t_min() : objective.t_min;
    const double hi = objective.t_max < 0 ? process.t_max() : objective.t_max;
    MD_CHECK(0 <= lo && lo < hi, "diffusion loss: training time range [", lo, ", ", hi,
             "] is empty or negative");
    for (int64_t b = 0; b < batch; ++b) t[b] = static_cast<float>(lo + (hi - lo) * u[b]);
  }
  return from_data(t, Shape({batch}));
}

std::vector<int64_t> drop_labels(const std::vector<int64_t>& labels, double p, Generator& gen,
                                 const BatchShard& shard) {
  MD_CHECK(p >= 0 && p <= 1, "diffusion loss: p_uncond = ", p, " is not a probability");
  if (labels.empty() || p == 0) return labels;
  const int64_t n = static_cast<int64_t>(labels.size());
  const std::vector<float> u = draw_uniform(n, gen, shard);  // in (0, 1]
  std::vector<int64_t> out = labels;
  // P(u <= p) = p for u ~ U(0, 1].
  for (int64_t b = 0; b < n; ++b)
    if (u[b] <= p) out[b] = nn::ClassEmbedding::kNoClass;
  return out;
}

Tensor diffusion_loss_at(const ModelFn& model, const Tensor& x0, const std::vector<int64_t>& labels,
                         const Process& process, const Objective& objective, const Tensor& t,
                         const Tensor& noise) {
  MD_CHECK(x0.ndim() >= 2, "diffusion loss: x0 must be [B, ...], got ", x0.shape().str());
  const int64_t batch = x0.size(0);
  MD_CHECK(t.ndim() == 1 && t.size(0) == batch, "diffusion loss: times ", t.shape().str(),
           " do not match the batch of x0 ", x0.shape().str());
  MD_CHECK(noise.shape() == x0.shape(), "diffusion loss: noise ", noise.shape().str(),
           " and x0 ", x0.shape().str(), " differ in shape");
  MD_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == batch, "diffusion loss: ",
           labels.size(), " labels for a batch of ", batch);
  check_parameterization(objective.kind, process);
  MD_CHECK(objective.min_snr_gamma >= 0 && std::isfinite(objective.min_snr_gamma),
           "diffusion loss: min-SNR gamma must be >= 0 (0: off), got ", objective.min_snr_gamma);
  MD_CHECK(objective.min_snr_gamma == 0 || objective.kind.kind == Parameterization::kEps ||
               objective.kind.kind == Parameterization::kX0 ||
               objective.kind.kind == Parameterization::kV,
           "diffusion loss: min-SNR weighting applies to the eps, x0 and v objectives, not ",
           parameterization_name(objective.kind));
  // x_t = alpha x_0 + sigma z with per-sample alpha, sigma [B, 1, ...].
  const Tensor a = per_sample(t, x0, &Process::alpha, process);
  const Tensor s = per_sample(t, x0, &Process::sigma, process);
  const Tensor xt = a * x0 + s * noise;
  // Everything the loss takes from the times is made before the network runs: on a device each
  // per-sample coefficient is a copy from the host, which waits for the kernels queued before it,
  // so made after the forward pass each would stall the step until the forward had finished.
  const bool score = objective.kind.kind == Parameterization::kScore;
  const Tensor input = network_input(objective.kind, process, xt, t);
  const Tensor net_time = network_times(objective.kind, process, t, x0.device());
  const Tensor target =
      score ? Tensor() : regression_target(objective.kind, process, x0, noise, xt, t);
  const double gamma = objective.min_snr_gamma;
  const Tensor w = score || gamma == 0 ? Tensor() : per_sample_values(t, x0, [&](double time) {
    return min_snr_weight(objective.kind, process, gamma, time);
  });
  const Tensor out = model(input, net_time, labels);
  MD_CHECK(out.defined() && out.shape() == x0.shape(), "diffusion loss: the model returned ",
           out.defined() ? out.shape().str() : std::string("nothing"), " for x_t of shape ",
           x0.shape().str());
  if (score) {
    // sigma^2 |out + z / sigma|^2 / 2 = |sigma out + z|^2 / 2 per sample, averaged over B.
    const Tensor r = s * out + noise;
    return sum(square(r)) * static_cast<float>(0.5 / batch);
  }
  if (gamma == 0) return mse_loss(out, target);
  return mean(w * square(out - target));
}

Tensor diffusion_loss(const ModelFn& model, const Tensor& x0, const std::vector<int64_t>& labels,
                      const Process& process, const Objective& objective, Generator& gen,
                      const BatchShard& shard) {
  MD_CHECK(x0.ndim() >= 2, "diffusion loss: x0 must be [B, ...], got ", x0.shape().str());
  // Draw order (fixed, so a seed reproduces a run): times, noise, label dropout.
  const Tensor t = sample_train_times(x0.size(0), process, objective, gen, shard);
  // The same numbers on every device.
  const Tensor noise =
      randn_rows(x0.shape(), gen, shard.first, global_rows(x0.size(0), shard), x0.device());
  const std::vector<int64_t> used = drop_labels(labels, objective.p_uncond, gen, shard);
  return diffusion_loss_at(model, x0, used, process, objective, t, noise);
}

}  // namespace mindiff::diffusion
