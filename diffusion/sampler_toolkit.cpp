// The sampler toolkit (sampler_toolkit.h): fused linear combinations of tensors, the
// evaluation-counting run context with its noise levels, trajectory snapshots and time grids.
#include "diffusion/sampler_toolkit.h"

#include <algorithm>
#include <cmath>

#include "diffusion/noise.h"

namespace mindiff::diffusion::detail {

namespace {

constexpr int64_t kSerialBelow = 32768;  // elements; below this threads cost more than they save

void check_same_shape(const char* what, const Tensor& x, const Tensor& y) {
  MD_CHECK(x.shape() == y.shape(), what, ": shapes ", x.shape().str(), " and ", y.shape().str(),
           " differ");
  MD_CHECK(x.device() == y.device(), what, ": tensors on ", device_name(x.device()), " and ",
           device_name(y.device()));
}

}  // namespace

Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y) {
  check_same_shape("sampler lincomb", x, y);
  if (x.device() != Device::CPU)
    return x.detach() * static_cast<float>(a) + y.detach() * static_cast<float>(b);
  // Detached: samplers run without gradients, and contiguous() must not record anything.
  const Tensor xc = x.detach().contiguous(), yc = y.detach().contiguous();
  Tensor out = empty(x.shape());
  const float *px = xc.data(), *py = yc.data();
  float* po = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (int64_t i = 0; i < n; ++i) po[i] = static_cast<float>(a * px[i] + b * py[i]);
  return out;
}

Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y, double c, const Tensor& z) {
  check_same_shape("sampler lincomb", x, y);
  check_same_shape("sampler lincomb", x, z);
  if (x.device() != Device::CPU)
    return x.detach() * static_cast<float>(a) + y.detach() * static_cast<float>(b) +
           z.detach() * static_cast<float>(c);
  const Tensor xc = x.detach().contiguous(), yc = y.detach().contiguous();
  const Tensor zc = z.detach().contiguous();
  Tensor out = empty(x.shape());
  const float *px = xc.data(), *py = yc.data(), *pz = zc.data();
  float* po = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (int64_t i = 0; i < n; ++i) po[i] = static_cast<float>(a * px[i] + b * py[i] + c * pz[i]);
  return out;
}

const Denoiser& SamplerRun::denoiser() const {
  MD_CHECK(denoiser_,
           "this sampler needs a denoiser (noise levels); a density given by its "
           "energy is sampled by langevin or mala");
  return *denoiser_;
}

Tensor SamplerRun::eps(const Tensor& x, double t) {
  ++evaluations_;
  Tensor e = denoiser().eps_at(x, t);  // one time for the batch: coefficients filled, not sent
  MD_CHECK(e.shape() == x.shape(), "sampler: the denoiser returned ", e.shape().str(),
           " for x of shape ", x.shape().str());
  return e;
}

Tensor SamplerRun::eps(const Tensor& x, const Tensor& t) {
  ++evaluations_;
  Tensor e = denoiser().eps(x, t);
  MD_CHECK(e.shape() == x.shape(), "sampler: the denoiser returned ", e.shape().str(),
           " for x of shape ", x.shape().str());
  return e;
}

// Tweedie (denoiser.h): E[x_0 | x_t] = (x - sigma eps) / alpha.
Tensor SamplerRun::denoise(const Tensor& x, double t) {
  const Tensor e = eps(x, t);
  const TweedieCoefficients c = tweedie(process().alpha(t), process().sigma(t));
  return lincomb(c.on_x, x, c.on_eps, e);
}

NoiseLevel SamplerRun::level(double s, const std::string& who) const {
  return noise_level(process(), s, who);
}

NoiseLevel noise_level(const Process& p, double s, const std::string& who) {
  const double lo = smallest_level(p), hi = largest_level(p);
  MD_CHECK(std::isfinite(s) && s > 0.0, who, ": noise level must be positive, got ", s);
  // A relative slack so that the process's own end points are accepted after rounding.
  MD_CHECK(s >= lo * (1 - 1e-9) && s <= hi * (1 + 1e-9), who, ": noise level ", s,
           " is outside the range [", lo, ", ", hi, "] of sigma(t) / alpha(t) of process '",
           p.name(), "'");
  NoiseLevel l;
  l.s = s;
  l.t = p.t_of_noise_ratio(std::min(std::max(s, lo), hi));
  l.alpha = p.alpha(l.t);
  return l;
}

// grad log q_s(y) = alpha score(alpha y, t) = -(alpha / sigma) eps(alpha y, t) = -eps / s.
Tensor SamplerRun::score_at(const Tensor& y, const NoiseLevel& l) {
  const Tensor e = eps(l.alpha == 1.0 ? y : y * static_cast<float>(l.alpha), l.t);
  return e * static_cast<float>(-1.0 / l.s);
}

// E[X | y] = E[x_0 | x_t = alpha y] = (alpha y - sigma eps) / alpha = y - s eps.
Tensor SamplerRun::denoise_at(const Tensor& y, const NoiseLevel& l) {
  const Tensor e = eps(l.alpha == 1.0 ? y : y * static_cast<float>(l.alpha), l.t);
  return lincomb(1.0, y, -l.s, e);
}

// q_s(y) = alpha^D p_t(alpha y): the same up to a constant.
std::vector<double> SamplerRun::log_density_at(const Tensor& y, const NoiseLevel& l) {
  ++evaluations_;
  return denoiser().log_density(l.alpha == 1.0 ? y : y * static_cast<float>(l.alpha), l.t);
}

Tensor SamplerRun::energy_score(const Tensor& y) {
  MD_CHECK(energy_, "energy_score: the run has no energy");
  ++evaluations_;
  return energy_->score(y);
}

std::vector<double> SamplerRun::energy_log_density(const Tensor& y) {
  MD_CHECK(energy_, "energy_log_density: the run has no energy");
  ++evaluations_;
  return energy_->log_density(y);
}

Tensor SamplerRun::noise(uint64_t draw) const { return noise(draw, shape_); }

Tensor SamplerRun::noise(uint64_t draw, const Shape& shape) const {
  return step_noise(shape, options_.seed, draw, options_.first_index, options_.device);
}

Tensor SamplerRun::prior() const {
  const Tensor z = noise(0);
  const double s = process().prior_std();
  return s == 1.0 ? z : z * static_cast<float>(s);
}

Trajectory::Trajectory(int frames, int64_t steps) {
  if (frames <= 0) return;
  frame_step_.resize(frames);
  frames_.resize(frames);
  for (int j = 0; j < frames; ++j)
    frame_step_[j] =
        frames == 1 ? steps : std::llround(static_cast<double>(j) * steps / (frames - 1));
}

void Trajectory::record(int64_t k, const Tensor& x) {
  // x is never written in place by the samplers (every update makes a fresh tensor), so keeping
  // the handle keeps the snapshot.
  for (size_t j = 0; j < frame_step_.size(); ++j)
    if (frame_step_[j] == k) frames_[j] = x;
}

std::vector<Tensor> Trajectory::finish(const Tensor& final_x) {
  for (size_t j = 0; j < frames_.size(); ++j)
    if (!frames_[j].defined()) frames_[j] = final_x;
  return frames_;
}

SampleResult finish(SamplerRun& run, const Tensor& x, Trajectory& traj) {
  SampleResult r;
  r.x = x;
  r.evaluations = run.evaluations();
  r.trajectory = traj.finish(x);
  return r;
}

SampleResult finish_at_t_min(SamplerRun& run, Tensor x, Trajectory& traj) {
  if (run.options().denoise_final) x = run.denoise(x, run.process().t_min());
  return finish(run, x, traj);
}

void resolve_level_range(SamplerOptions& o, const ResolveContext& c) {
  const Process& p = *c.process;
  if (o.sigma_max == 0) o.sigma_max = largest_level(p);
  if (o.sigma_min == 0) o.sigma_min = smallest_level(p);
  MD_CHECK(o.sigma_min < o.sigma_max, c.sampler, ": need sigma_min < sigma_max, got ", o.sigma_min,
           " and ", o.sigma_max);
  noise_level(p, o.sigma_max, std::string(c.sampler) + ": sigma_max");
  noise_level(p, o.sigma_min, std::string(c.sampler) + ": sigma_min");
}

double smallest_level(const Process& p) { return p.noise_ratio(p.t_min()); }
double largest_level(const Process& p) { return p.noise_ratio(p.t_max()); }

std::vector<double> uniform_time_grid(const Process& process, int steps) {
  const double t_max = process.t_max(), t_min = process.t_min();
  std::vector<double> t(steps + 1);
  for (int k = 0; k <= steps; ++k) t[k] = t_max - (t_max - t_min) * k / steps;
  t[steps] = t_min;  // exactly, whatever the rounding above
  return t;
}

}  // namespace mindiff::diffusion::detail
