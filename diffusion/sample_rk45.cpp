// Adaptive probability-flow ODE sampler: Dormand-Prince 5(4) with local extrapolation (the
// 5th-order solution is kept, the embedded 4th-order one only estimates the error), FSAL.
//
// ODE (Song et al. 2021 eq. 13): dx/dt = v(x, t) = f(t) x + (g(t)^2 / (2 sigma(t))) eps(x, t),
// integrated from t_max down to t_min with signed steps h < 0.
//
// Every sample has its own step size and time. A step size shared by the batch would make sample
// i depend on the other samples of its batch (through the error norm), breaking "same seed, same
// samples whatever the batch"; the denoiser takes per-sample times [B], so per-sample control
// costs nothing extra. Each loop iteration advances all unfinished samples by one attempted step
// (6 new stages: FSAL reuses the 7th stage of an accepted step as the next step's 1st), gathering
// them into one batch for each denoiser call.
//
// Error control (Hairer, Norsett, Wanner, "Solving ODEs I", II.4, as in scipy's RK45): with y the
// 5th-order and y* the 4th-order solution of a sample's P values,
//   err = sqrt(mean_j ((y_j - y*_j) / (atol + rtol max(|x_j|, |y_j|)))^2)
// accept when err <= 1, and set h <- h clamp(0.9 err^{-1/5}, 0.2, 10) (after a rejection the
// factor is at most 1). The first step size comes from Hairer's starting-step rule (II.4), which
// costs one evaluation. `steps` caps the attempted steps per sample: a tolerance that cannot be
// met raises an error instead of hanging.
//
// Evaluations: 1 (v at the prior) + 1 (starting step) + 6 per loop iteration (the most steps any
// sample of the batch needed), + 1 with denoise_final. Trajectory frame j of F is x at
// t_max - j (t_max - t_min) / (F - 1), linearly interpolated inside the accepted step crossing it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion::detail {

namespace {

// Dormand & Prince (1980) tableau: nodes c, stage weights a (row i = stage i + 1), 5th-order
// weights b (= row 7 of a, which makes the last stage FSAL), and e = b - b* (b* the 4th order).
constexpr int kStages = 7;
constexpr double kC[kStages] = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
constexpr double kA[kStages][kStages - 1] = {
    {0, 0, 0, 0, 0, 0},
    {1.0 / 5, 0, 0, 0, 0, 0},
    {3.0 / 40, 9.0 / 40, 0, 0, 0, 0},
    {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
constexpr double kE[kStages] = {71.0 / 57600,      0,           -71.0 / 16695, 71.0 / 1920,
                                -17253.0 / 339200, 22.0 / 525, -1.0 / 40};
constexpr double kSafety = 0.9, kMinFactor = 0.2, kMaxFactor = 10.0;
constexpr double kErrorExponent = -1.0 / 5;  // -1 / (order of the error estimate + 1)

// Per-sample velocities v(Y_b, T_b) for the rows `idx` gathered into Y [A, P] (A = idx.size()):
// one denoiser evaluation on the gathered batch. The step control runs on the host; Y and the
// times go to the sampler's device for the evaluation and eps comes back.
class FlowBatch {
 public:
  FlowBatch(SamplerRun& run, int64_t per_sample) : run_(run), per_(per_sample) {}

  // y: A * P values, times: A values; returns A * P velocities.
  std::vector<float> operator()(const std::vector<float>& y, const std::vector<double>& times) {
    const int64_t a = static_cast<int64_t>(times.size());
    std::vector<int64_t> dims = run_.shape().vec();
    dims[0] = a;
    Tensor x = empty(Shape(dims));
    std::memcpy(x.data(), y.data(), sizeof(float) * a * per_);
    std::vector<float> tf(times.begin(), times.end());
    const Device device = run_.options().device;
    const Tensor eps =
        run_.eps(x.to(device), from_data(tf, Shape({a})).to(device)).to(Device::CPU).contiguous();
    const float* pe = eps.data();
    std::vector<float> v(a * per_);
    const Process& p = run_.process();
    for (int64_t b = 0; b < a; ++b) {
      const double g = p.diffusion(times[b]), f = p.drift(times[b]);
      const double ce = 0.5 * g * g / p.sigma(times[b]);
      for (int64_t j = 0; j < per_; ++j)
        v[b * per_ + j] = static_cast<float>(f * y[b * per_ + j] + ce * pe[b * per_ + j]);
    }
    return v;
  }

 private:
  SamplerRun& run_;
  int64_t per_;
};

double rms(const float* u, const float* scale_of, int64_t n, double atol, double rtol) {
  double acc = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double r = u[j] / (atol + rtol * std::fabs(scale_of[j]));
    acc += r * r;
  }
  return std::sqrt(acc / n);
}

}  // namespace

SampleResult sample_ode_rk45(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const Shape& shape = run.shape();
  const Process& p = run.process();
  const int64_t rows = shape[0], per = shape.numel() / rows;
  const double t_max = p.t_max(), t_min = p.t_min(), span = t_max - t_min;
  const double atol = o.atol, rtol = o.rtol;
  FlowBatch flow(run, per);

  const Tensor prior = run.prior();
  const Tensor x0 = prior.to(Device::CPU).contiguous();
  std::vector<float> x(x0.data(), x0.data() + rows * per);
  std::vector<double> t(rows, t_max), hs(rows);  // hs: step magnitude, steps go t -> t - hs
  std::vector<float> k1 = flow(x, t);            // FSAL derivative at each sample's state

  // Hairer's starting step (II.4), per sample: h0 from |x| / |v|, then h1 from the change of v
  // over h0, so that the first local error is about 0.01 of the tolerance.
  {
    std::vector<double> h0(rows), t1(rows), d1(rows);
    std::vector<float> y1(rows * per);
    for (int64_t b = 0; b < rows; ++b) {
      const float *xb = &x[b * per], *fb = &k1[b * per];
      const double d0 = rms(xb, xb, per, atol, rtol);
      d1[b] = rms(fb, xb, per, atol, rtol);
      h0[b] = (d0 < 1e-5 || d1[b] < 1e-5) ? 1e-6 : 0.01 * d0 / d1[b];
      h0[b] = std::min(h0[b], span);
      t1[b] = t_max - h0[b];
      for (int64_t j = 0; j < per; ++j) y1[b * per + j] = static_cast<float>(xb[j] - h0[b] * fb[j]);
    }
    const std::vector<float> f1 = flow(y1, t1);
    std::vector<float> df(per);
    for (int64_t b = 0; b < rows; ++b) {
      for (int64_t j = 0; j < per; ++j) df[j] = f1[b * per + j] - k1[b * per + j];
      const double d2 = rms(df.data(), &x[b * per], per, atol, rtol) / h0[b];
      const double dm = std::max(d1[b], d2);
      const double h1 = dm <= 1e-15 ? std::max(1e-6, 1e-3 * h0[b]) : std::pow(0.01 / dm, 0.2);
      hs[b] = std::min({100 * h0[b], h1, span});
    }
  }

  // Trajectory frames at fixed times; frame 0 is the prior, the last one the returned samples.
  const int frames = o.trajectory_frames;
  std::vector<std::vector<float>> frame_data(frames > 2 ? frames - 2 : 0);
  for (auto& f : frame_data) f.assign(rows * per, 0.0f);
  auto frame_time = [&](int j) { return t_max - span * j / (frames - 1); };

  std::vector<char> rejected(rows, 0);
  std::vector<int> attempts(rows, 0);
  std::vector<int64_t> active;
  for (int64_t b = 0; b < rows; ++b) active.push_back(b);
  while (!active.empty()) {
    const int64_t na = static_cast<int64_t>(active.size());
    // Stage derivatives K[i] of the gathered rows; K[0] is the FSAL derivative.
    std::vector<std::vector<float>> k(kStages, std::vector<float>(na * per));
    std::vector<double> h(na), tt(na);
    for (int64_t a = 0; a < na; ++a) {
      const int64_t b = active[a];
      const double rest = t[b] - t_min;
      if (hs[b] > rest) hs[b] = rest;
      h[a] = -hs[b];
      std::memcpy(&k[0][a * per], &k1[b * per], sizeof(float) * per);
    }
    std::vector<float> y(na * per);
    for (int i = 1; i < kStages; ++i) {
#pragma omp parallel for schedule(static) if (na * per >= 32768)
      for (int64_t a = 0; a < na; ++a) {
        const float* xb = &x[active[a] * per];
        tt[a] = t[active[a]] + kC[i] * h[a];  // each row writes only its own entries
        for (int64_t j = 0; j < per; ++j) {
          double acc = 0;
          for (int l = 0; l < i; ++l) acc += kA[i][l] * k[l][a * per + j];
          y[a * per + j] = static_cast<float>(xb[j] + h[a] * acc);
        }
      }
      k[i] = flow(y, tt);
    }
    // y now holds the 5th-order solution (stage 7's input, a[6] = b).
    std::vector<int64_t> still_active;
    for (int64_t a = 0; a < na; ++a) {
      const int64_t b = active[a];
      float* xb = &x[b * per];
      const float* yb = &y[a * per];
      double acc = 0;
      for (int64_t j = 0; j < per; ++j) {
        double e = 0;
        for (int l = 0; l < kStages; ++l) e += kE[l] * k[l][a * per + j];
        const double sc = atol + rtol * std::max(std::fabs(xb[j]), std::fabs(yb[j]));
        const double r = h[a] * e / sc;
        acc += r * r;
      }
      const double err = std::sqrt(acc / per);
      ++attempts[b];
      if (err <= 1.0) {
        double factor = err == 0 ? kMaxFactor
                                 : std::min(kMaxFactor, kSafety * std::pow(err, kErrorExponent));
        if (rejected[b]) factor = std::min(1.0, factor);
        rejected[b] = 0;
        const double t_old = t[b];
        const double t_new = hs[b] >= t_old - t_min ? t_min : t_old - hs[b];
        for (int j = 1; j + 1 < frames; ++j) {
          const double tf = frame_time(j);
          if (!(tf < t_old && tf >= t_new)) continue;
          const double w = (t_old - tf) / (t_old - t_new);
          float* fb = &frame_data[j - 1][b * per];
          for (int64_t q = 0; q < per; ++q)
            fb[q] = static_cast<float>((1 - w) * xb[q] + w * yb[q]);
        }
        std::memcpy(xb, yb, sizeof(float) * per);
        std::memcpy(&k1[b * per], &k[kStages - 1][a * per], sizeof(float) * per);
        t[b] = t_new;
        hs[b] *= factor;
        if (t_new > t_min) still_active.push_back(b);
      } else {
        hs[b] *= std::max(kMinFactor, kSafety * std::pow(err, kErrorExponent));
        rejected[b] = 1;
        MD_CHECK(hs[b] > 1e-12 * span, "ode-rk45: the step size of sample ", o.first_index + b,
                 " fell below ", 1e-12 * span, " at t = ", t[b], " (rtol ", rtol, ", atol ", atol,
                 "); the flow is not smooth enough for these tolerances");
        still_active.push_back(b);
      }
      MD_CHECK(attempts[b] <= o.steps || t[b] <= t_min, "ode-rk45: sample ", o.first_index + b,
               " did not reach t_min = ", t_min, " within ", o.steps, " step attempts (at t = ",
               t[b], ", rtol ", rtol, ", atol ", atol, "); loosen the tolerances or raise steps");
    }
    active.swap(still_active);
  }

  Tensor out = empty(shape);
  std::memcpy(out.data(), x.data(), sizeof(float) * rows * per);
  Trajectory traj(0, 1);
  SampleResult r = finish_at_t_min(run, out.to(o.device), traj);
  if (frames > 0) {
    if (frames > 1) r.trajectory.push_back(prior);
    for (const std::vector<float>& f : frame_data)
      r.trajectory.push_back(from_data(f, shape).to(o.device));
    r.trajectory.push_back(r.x);
  }
  return r;
}

}  // namespace mindiff::diffusion::detail
