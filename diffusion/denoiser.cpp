// The Denoiser's derived quantities and the conversions between eps, score and x0 predictions.
// All are compositions of differentiable ops, so gradients w.r.t. x flow through eps (the
// likelihood's divergence estimator relies on it).
#include "diffusion/denoiser.h"

namespace mindiff::diffusion {

Times Times::uniform(int64_t batch, double t, Device device) {
  Times out(time_batch(batch, t, device));
  out.same = static_cast<float>(t);
  return out;
}

Tensor per_sample(const Times& t, const Tensor& like, double (Process::*fn)(double) const,
                  const Process& process) {
  return per_sample_values(t, like, [&](double time) { return (process.*fn)(time); });
}

Tensor per_sample_values(const Times& times_of, const Tensor& like,
                         const std::function<double(double)>& fn) {
  const Tensor& t = times_of.t;
  MD_CHECK(t.ndim() == 1, "per_sample: times must be [B], got ", t.shape().str());
  MD_CHECK(like.ndim() >= 1 && like.size(0) == t.size(0), "per_sample: times ", t.shape().str(),
           " do not match the batch of x ", like.shape().str());
  // [B] -> [B, 1, ..., 1] of like's rank, so it broadcasts over every axis but the batch.
  std::vector<int64_t> shape(like.ndim(), 1);
  shape[0] = t.size(0);
  // One time for all: the same float(fn(t)) in every row, filled where x is.
  if (times_of.same)
    return full(Shape(shape), static_cast<float>(fn(static_cast<double>(*times_of.same))),
                like.device());
  std::vector<float> times = t.to_vector(), values(times.size());
  for (size_t b = 0; b < times.size(); ++b)
    values[b] = static_cast<float>(fn(static_cast<double>(times[b])));
  return from_data(values, Shape(shape)).to(like.device());  // computed on the host: B values
}

Tensor time_batch(int64_t batch, double t, Device device) {
  MD_CHECK(batch >= 0, "time_batch: negative batch ", batch);
  return full(Shape({batch}), static_cast<float>(t), device);
}

Tensor Denoiser::eps_at(const Tensor& x, double t) const {
  return eps(x, time_batch(x.size(0), t, x.device()));
}

// score = grad log p_t = -eps / sigma (x_t = alpha x_0 + sigma eps, so E[eps | x_t] = -sigma score).
Tensor Denoiser::score(const Tensor& x, const Tensor& t) const {
  return eps_to_score(eps(x, t), per_sample(t, x, &Process::sigma, *process_));
}

// Tweedie's formula: E[x_0 | x_t] = (x_t + sigma^2 score) / alpha = (x_t - sigma eps) / alpha.
Tensor Denoiser::denoise(const Tensor& x, const Tensor& t) const {
  return eps_to_x0(x, eps(x, t), per_sample(t, x, &Process::alpha, *process_),
                   per_sample(t, x, &Process::sigma, *process_));
}

std::vector<double> Denoiser::log_density(const Tensor&, double) const {
  throw Error("this denoiser (a network) has no log-density; only exact targets have one");
}

Tensor ClippedDenoiser::eps(const Tensor& x, const Tensor& t) const {
  return clip(x, inner_.eps(x, t), t);
}

Tensor ClippedDenoiser::eps_at(const Tensor& x, double t) const {
  return clip(x, inner_.eps_at(x, t), Times::uniform(x.size(0), t, x.device()));
}

Tensor ClippedDenoiser::clip(const Tensor& x, const Tensor& eps, const Times& t) const {
  const Tensor alpha = per_sample(t, x, &Process::alpha, process());
  const Tensor sigma = per_sample(t, x, &Process::sigma, process());
  const Tensor x0 = clamp(eps_to_x0(x, eps, alpha, sigma), lo_, hi_);
  return x0_to_eps(x, x0, alpha, sigma);
}

TweedieCoefficients tweedie(double alpha, double sigma) { return {1.0 / alpha, -sigma / alpha}; }

Tensor eps_to_score(const Tensor& eps, const Tensor& sigma) { return -(eps / sigma); }
Tensor score_to_eps(const Tensor& score, const Tensor& sigma) { return -(score * sigma); }
// x = alpha x0 + sigma eps solved for x0 or for eps.
Tensor eps_to_x0(const Tensor& x, const Tensor& eps, const Tensor& alpha, const Tensor& sigma) {
  return (x - sigma * eps) / alpha;
}
Tensor x0_to_eps(const Tensor& x, const Tensor& x0, const Tensor& alpha, const Tensor& sigma) {
  return (x - alpha * x0) / sigma;
}

}  // namespace mindiff::diffusion
