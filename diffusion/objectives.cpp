// Training losses (formulas in objectives.h). Shapes: x_0 [B, ...], t [B], labels B or empty.
#include "diffusion/objectives.h"

#include <algorithm>
#include <cmath>

#include "diffusion/denoiser.h"
#include "nn/embedding.h"

namespace mindiff::diffusion {

Parameterization parse_parameterization(const std::string& name) {
  if (name == "eps") return Parameterization::kEps;
  if (name == "x0") return Parameterization::kX0;
  if (name == "score") return Parameterization::kScore;
  MD_CHECK(false, "unknown parameterisation '", name, "'; known: eps, x0, score");
  return Parameterization::kEps;
}

std::string parameterization_name(Parameterization kind) {
  switch (kind) {
    case Parameterization::kEps: return "eps";
    case Parameterization::kX0: return "x0";
    case Parameterization::kScore: return "score";
  }
  return "?";
}

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
  // x_t = alpha x_0 + sigma z with per-sample alpha, sigma [B, 1, ...].
  const Tensor a = per_sample(t, x0, &Process::alpha, process);
  const Tensor s = per_sample(t, x0, &Process::sigma, process);
  const Tensor xt = a * x0 + s * noise;
  std::vector<float> tv = t.to_vector(), net(batch);
  for (int64_t b = 0; b < batch; ++b) net[b] = static_cast<float>(process.network_time(tv[b]));
  const Tensor out = model(xt, from_data(net, Shape({batch})).to(x0.device()), labels);
  MD_CHECK(out.defined() && out.shape() == x0.shape(), "diffusion loss: the model returned ",
           out.defined() ? out.shape().str() : std::string("nothing"), " for x_t of shape ",
           x0.shape().str());
  switch (objective.kind) {
    case Parameterization::kEps: return mse_loss(out, noise);
    case Parameterization::kX0: return mse_loss(out, x0);
    case Parameterization::kScore: {
      // sigma^2 |out + z / sigma|^2 / 2 = |sigma out + z|^2 / 2 per sample, averaged over B.
      const Tensor r = s * out + noise;
      return sum(square(r)) * static_cast<float>(0.5 / batch);
    }
  }
  return Tensor();
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
