// The pieces every diffusion sampler shares (sampler_impl.h): fused linear combinations of
// tensors, the evaluation-counting run context, trajectory snapshots and the uniform time grid.
#include <algorithm>
#include <cmath>

#include "diffusion/noise.h"
#include "diffusion/sampler_impl.h"

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

Tensor SamplerRun::eps(const Tensor& x, double t) {
  return eps(x, time_batch(x.size(0), t, x.device()));
}

Tensor SamplerRun::eps(const Tensor& x, const Tensor& t) {
  ++evaluations_;
  Tensor e = denoiser_.eps(x, t);
  MD_CHECK(e.shape() == x.shape(), "sampler: the denoiser returned ", e.shape().str(),
           " for x of shape ", x.shape().str());
  return e;
}

Tensor SamplerRun::denoise(const Tensor& x, double t) {
  const Tensor e = eps(x, t);
  const TweedieCoefficients c = tweedie(process().alpha(t), process().sigma(t));
  return lincomb(c.on_x, x, c.on_eps, e);
}

Tensor SamplerRun::noise(uint64_t draw) const {
  return step_noise(shape_, options_.seed, draw, options_.first_index, options_.device);
}

Tensor SamplerRun::prior() const {
  const Tensor z = noise(0);
  const double s = process().prior_std();
  return s == 1.0 ? z : z * static_cast<float>(s);
}

Trajectory::Trajectory(int frames, int steps) {
  if (frames <= 0) return;
  frame_step_.resize(frames);
  frames_.resize(frames);
  for (int j = 0; j < frames; ++j)
    frame_step_[j] = frames == 1 ? steps
                                 : static_cast<int>(std::llround(static_cast<double>(j) * steps /
                                                                 (frames - 1)));
}

void Trajectory::record(int k, const Tensor& x) {
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

SampleResult sampler_result(const SamplerRun& run, const Tensor& x, Trajectory& traj) {
  SampleResult r;
  r.x = x;
  r.evaluations = run.evaluations();
  r.trajectory = traj.finish(x);
  return r;
}

SampleResult finish_at_t_min(SamplerRun& run, Tensor x, Trajectory& traj) {
  if (run.options().denoise_final) x = run.denoise(x, run.process().t_min());
  return sampler_result(run, x, traj);
}

std::vector<double> uniform_time_grid(const Process& process, int steps) {
  const double t_max = process.t_max(), t_min = process.t_min();
  std::vector<double> t(steps + 1);
  for (int k = 0; k <= steps; ++k) t[k] = t_max - (t_max - t_min) * k / steps;
  t[steps] = t_min;  // exactly, whatever the rounding above
  return t;
}

}  // namespace mindiff::diffusion::detail
