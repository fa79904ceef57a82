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

// What the step control of every sample is held to.
struct Control {
  double atol, rtol;
  double t_min, span;     // steps go from t_max down to t_min = t_max - span
  int max_attempts;       // `steps`
  int64_t first_index;    // for the messages: the samples' indices
};

// Every sample's state: x at its time t, the FSAL derivative k1 there, the magnitude hs of its
// next step (t -> t - hs), whether its last attempt was rejected, and its attempts so far.
struct State {
  int64_t per;  // values per sample
  std::vector<float> x, k1;
  std::vector<double> t, hs;
  std::vector<char> rejected;
  std::vector<int> attempts;
};

// Hairer's starting step (II.4), per sample: h0 from |x| / |v|, then h1 from the change of v
// over h0, so that the first local error is about 0.01 of the tolerance. One evaluation.
void starting_steps(FlowBatch& flow, State& s, const Control& c) {
  const int64_t rows = static_cast<int64_t>(s.t.size()), per = s.per;
  std::vector<double> h0(rows), t1(rows), d1(rows);
  std::vector<float> y1(rows * per);
  for (int64_t b = 0; b < rows; ++b) {
    const float *xb = &s.x[b * per], *fb = &s.k1[b * per];
    const double d0 = rms(xb, xb, per, c.atol, c.rtol);
    d1[b] = rms(fb, xb, per, c.atol, c.rtol);
    h0[b] = (d0 < 1e-5 || d1[b] < 1e-5) ? 1e-6 : 0.01 * d0 / d1[b];
    h0[b] = std::min(h0[b], c.span);
    t1[b] = s.t[b] - h0[b];
    for (int64_t j = 0; j < per; ++j) y1[b * per + j] = static_cast<float>(xb[j] - h0[b] * fb[j]);
  }
  const std::vector<float> f1 = flow(y1, t1);
  std::vector<float> df(per);
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t j = 0; j < per; ++j) df[j] = f1[b * per + j] - s.k1[b * per + j];
    const double d2 = rms(df.data(), &s.x[b * per], per, c.atol, c.rtol) / h0[b];
    const double dm = std::max(d1[b], d2);
    const double h1 = dm <= 1e-15 ? std::max(1e-6, 1e-3 * h0[b]) : std::pow(0.01 / dm, 0.2);
    s.hs[b] = std::min({100 * h0[b], h1, c.span});
  }
}

// One attempted step of the rows `active`, gathered: the stage derivatives k[0..6] (k[0] the
// FSAL one), each row's signed step h < 0 (clipped so as not to pass t_min), and y, the 5th-order
// solution (stage 7's input, since a[6] = b). Six evaluations.
struct Attempt {
  std::vector<std::vector<float>> k;
  std::vector<double> h;
  std::vector<float> y;
};

Attempt attempt_step(FlowBatch& flow, State& s, const std::vector<int64_t>& active,
                     const Control& c) {
  const int64_t na = static_cast<int64_t>(active.size()), per = s.per;
  Attempt at{std::vector<std::vector<float>>(kStages, std::vector<float>(na * per)),
             std::vector<double>(na), std::vector<float>(na * per)};
  for (int64_t a = 0; a < na; ++a) {
    const int64_t b = active[a];
    s.hs[b] = std::min(s.hs[b], s.t[b] - c.t_min);
    at.h[a] = -s.hs[b];
    std::memcpy(&at.k[0][a * per], &s.k1[b * per], sizeof(float) * per);
  }
  std::vector<double> tt(na);
  for (int i = 1; i < kStages; ++i) {
#pragma omp parallel for schedule(static) if (na * per >= 32768)
    for (int64_t a = 0; a < na; ++a) {
      const float* xb = &s.x[active[a] * per];
      tt[a] = s.t[active[a]] + kC[i] * at.h[a];  // each row writes only its own entries
      for (int64_t j = 0; j < per; ++j) {
        double acc = 0;
        for (int l = 0; l < i; ++l) acc += kA[i][l] * at.k[l][a * per + j];
        at.y[a * per + j] = static_cast<float>(xb[j] + at.h[a] * acc);
      }
    }
    at.k[i] = flow(at.y, tt);
  }
  return at;
}

// The error norm of row a: the difference of the 5th- and 4th-order solutions, h sum_l e_l k_l,
// scaled by atol + rtol max(|x|, |y|), root mean square over the sample's values.
double step_error(const Attempt& at, int64_t a, const float* xb, int64_t per, const Control& c) {
  const float* yb = &at.y[a * per];
  double acc = 0;
  for (int64_t j = 0; j < per; ++j) {
    double e = 0;
    for (int l = 0; l < kStages; ++l) e += kE[l] * at.k[l][a * per + j];
    const double sc = c.atol + c.rtol * std::max(std::fabs(xb[j]), std::fabs(yb[j]));
    const double r = at.h[a] * e / sc;
    acc += r * r;
  }
  return std::sqrt(acc / per);
}

// Trajectory frames at fixed times; frame 0 is the prior, the last one the returned samples, and
// the ones between are interpolated inside the accepted step that crosses their time.
class Frames {
 public:
  Frames(int frames, int64_t rows, int64_t per, double t_max, double span)
      : frames_(frames), per_(per), t_max_(t_max), span_(span),
        inner_(frames > 2 ? frames - 2 : 0, std::vector<float>(rows * per, 0.0f)) {}

  // Sample b went from xb at t_old to yb at t_new < t_old.
  void record(int64_t b, double t_old, double t_new, const float* xb, const float* yb) {
    for (int j = 1; j + 1 < frames_; ++j) {
      const double tf = t_max_ - span_ * j / (frames_ - 1);
      if (!(tf < t_old && tf >= t_new)) continue;
      const double w = (t_old - tf) / (t_old - t_new);
      float* fb = &inner_[j - 1][b * per_];
      for (int64_t q = 0; q < per_; ++q) fb[q] = static_cast<float>((1 - w) * xb[q] + w * yb[q]);
    }
  }

  void append_to(SampleResult& r, const Tensor& prior, const Shape& shape, Device device) const {
    if (frames_ <= 0) return;
    if (frames_ > 1) r.trajectory.push_back(prior);
    for (const std::vector<float>& f : inner_)
      r.trajectory.push_back(from_data(f, shape).to(device));
    r.trajectory.push_back(r.x);
  }

 private:
  int frames_;
  int64_t per_;
  double t_max_, span_;
  std::vector<std::vector<float>> inner_;
};

// Accepts or rejects row a (sample b) of the attempt by its error; returns whether the sample
// still has steps to go. Accepted: x and k1 move to the step's end and h grows by
// clamp(0.9 err^{-1/5}, ., 10) (at most 1 right after a rejection). Rejected: h shrinks by
// max(0.2, 0.9 err^{-1/5}). Errors when h vanishes or the attempts run out.
bool accept_or_reject(State& s, const Attempt& at, int64_t a, int64_t b, Frames& frames,
                      const Control& c) {
  const int64_t per = s.per;
  float* xb = &s.x[b * per];
  const float* yb = &at.y[a * per];
  const double err = step_error(at, a, xb, per, c);
  ++s.attempts[b];
  bool active = true;
  if (err <= 1.0) {
    double factor =
        err == 0 ? kMaxFactor : std::min(kMaxFactor, kSafety * std::pow(err, kErrorExponent));
    if (s.rejected[b]) factor = std::min(1.0, factor);
    s.rejected[b] = 0;
    const double t_old = s.t[b];
    const double t_new = s.hs[b] >= t_old - c.t_min ? c.t_min : t_old - s.hs[b];
    frames.record(b, t_old, t_new, xb, yb);
    std::memcpy(xb, yb, sizeof(float) * per);
    std::memcpy(&s.k1[b * per], &at.k[kStages - 1][a * per], sizeof(float) * per);
    s.t[b] = t_new;
    s.hs[b] *= factor;
    active = t_new > c.t_min;
  } else {
    s.hs[b] *= std::max(kMinFactor, kSafety * std::pow(err, kErrorExponent));
    s.rejected[b] = 1;
    MD_CHECK(s.hs[b] > 1e-12 * c.span, "ode-rk45: the step size of sample ", c.first_index + b,
             " fell below ", 1e-12 * c.span, " at t = ", s.t[b], " (rtol ", c.rtol, ", atol ",
             c.atol, "); the flow is not smooth enough for these tolerances");
  }
  MD_CHECK(s.attempts[b] <= c.max_attempts || s.t[b] <= c.t_min, "ode-rk45: sample ",
           c.first_index + b, " did not reach t_min = ", c.t_min, " within ", c.max_attempts,
           " step attempts (at t = ", s.t[b], ", rtol ", c.rtol, ", atol ", c.atol,
           "); loosen the tolerances or raise steps");
  return active;
}

}  // namespace

SampleResult sample_ode_rk45(SamplerRun& run) {
  const SamplerOptions& o = run.options();
  const Shape& shape = run.shape();
  const Process& p = run.process();
  const int64_t rows = shape[0], per = shape.numel() / rows;
  const Control c{o.atol, o.rtol, p.t_min(), p.t_max() - p.t_min(), o.steps, o.first_index};
  FlowBatch flow(run, per);

  // The prior, the derivative there (FSAL) and the first step sizes.
  const Tensor prior = run.prior();
  const Tensor x0 = prior.to(Device::CPU).contiguous();
  State s{per, std::vector<float>(x0.data(), x0.data() + rows * per), {},
          std::vector<double>(rows, p.t_max()), std::vector<double>(rows),
          std::vector<char>(rows, 0), std::vector<int>(rows, 0)};
  s.k1 = flow(s.x, s.t);
  starting_steps(flow, s, c);

  // Every unfinished sample attempts one step per round, until all reach t_min.
  Frames frames(o.trajectory_frames, rows, per, p.t_max(), c.span);
  std::vector<int64_t> active;
  for (int64_t b = 0; b < rows; ++b) active.push_back(b);
  while (!active.empty()) {
    const Attempt at = attempt_step(flow, s, active, c);
    std::vector<int64_t> still_active;
    for (int64_t a = 0; a < static_cast<int64_t>(active.size()); ++a)
      if (accept_or_reject(s, at, a, active[a], frames, c)) still_active.push_back(active[a]);
    active.swap(still_active);
  }

  Tensor out = empty(shape);
  std::memcpy(out.data(), s.x.data(), sizeof(float) * rows * per);
  Trajectory traj(0, 1);
  SampleResult r = finish_at_t_min(run, out.to(o.device), traj);
  frames.append_to(r, prior, shape, o.device);
  return r;
}

}  // namespace mindiff::diffusion::detail
