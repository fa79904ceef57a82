// The Langevin family: plain, annealed (NCSN), walk-jump and sequential multi-measurement
// sampling. See langevin.h for the update rules; the choices this file makes are:
//
// * Noise levels in VE coordinates. Walk-jump, multi-measurement and annealed Langevin need the
//   score of q_s, the density of Y = X + s N (Bach, "empirical Bayes"). A process with
//   x_t = alpha(t) X + sigma(t) N gives it at every level: y = x_t / alpha(t) is X + (sigma/alpha) N,
//   so with r(t) = sigma(t) / alpha(t) and t chosen so that r(t) = s,
//       grad log q_s(y) = alpha(t) score(alpha(t) y, t),      E[X | y] = denoise(alpha(t) y, t).
//   For VE (alpha = 1) this is just score(y, t_of_sigma(s)); VP, sub-VP, OU and DDPM models are
//   converted the same way instead of being refused. A level outside [r(t_min), r(t_max)] is an
//   error naming the sampler and the range.
// * Step sizes. The Hessian of log q_s is -(1/s^2) [I - Cov(X | y) / s^2] (Bach, "more and more
//   log-concave"), so the curvature of -log q_s is at most 1/s^2 in every direction and
//   unadjusted Langevin with gamma = c s^2, c < 2, is stable; along a direction of curvature
//   1/v it samples variance v / (1 - gamma / (2 v)) instead of v (the exact stationary variance of
//   the discretised chain on a Gaussian), an inflation of at most 1 / (1 - c/2).
// * Noise: every Gaussian draw of one run takes the next `step` value of step_noise, so results
//   depend on (seed, sample index) only.
// * Trajectories (SamplerOptions::trajectory_frames = F): frames evenly spaced over the chain's
//   steps 0..K plus, where the sampler ends with a jump or a final denoising, that as step K + 1:
//   frame j is the state after step round(j (K') / (F - 1)), K' = K or K + 1, so the first frame
//   is the starting noise and the last the returned samples, as for the diffusion samplers. The
//   states are those of the chain (x, y, or the running mean ybar for multi-measurement).
#include "diffusion/langevin.h"

#include <cmath>

#include "diffusion/noise.h"

namespace mindiff::diffusion {

namespace {

// Defaults (documented in docs/diffusion.md, "Langevin family and likelihoods").
constexpr int kPlainSteps = 1000;       // langevin on the denoiser at t_min
constexpr double kPlainStepFactor = 0.5;  // gamma = 0.5 sigma(t_min)^2 (variance inflation <= 4/3)
constexpr int kAnnealedLevels = 10;     // NCSN's L
constexpr int kAnnealedStepsPerLevel = 100;  // NCSN's T; options.steps is T (per level)
constexpr double kAnnealedEpsFactor = 0.2;   // eps = 0.2 sigma_L^2 (NCSN: 2e-5 at sigma_L = 0.01)
constexpr int kWalkSteps = 1000;        // walk-jump: Langevin steps of the walk
constexpr int kMeasurementSteps = 250;  // multi-measurement: Langevin steps per measurement
constexpr double kWalkStepFactor = 0.1;  // gamma = 0.1 sigma^2 (variance inflation <= 1/0.95)
constexpr double kDataScale = 1.0;      // walk starts from N(0, (kDataScale^2 + sigma^2) I)

// One run's source of Gaussian noise: the k-th draw is step_noise(shape, seed, k, first_index),
// made on `device`.
class NoiseStream {
 public:
  NoiseStream(const SamplerOptions& o, Device device)
      : seed_(o.seed), first_(o.first_index), device_(device) {}
  explicit NoiseStream(const SamplerOptions& o) : NoiseStream(o, o.device) {}
  Tensor next(const Shape& shape) { return step_noise(shape, seed_, step_++, first_, device_); }

 private:
  uint64_t seed_;
  int64_t first_;
  Device device_;
  uint64_t step_ = 0;
};

// Keeps `frames` snapshots evenly spaced over steps 0..total (0 = the initial state, total = the
// returned samples); one frame keeps only the returned samples. When there are more frames than
// steps, a step's state fills every frame that rounds to it.
class Frames {
 public:
  Frames(int frames, int64_t total) : frames_(frames), total_(total) {}
  void offer(int64_t step, const Tensor& x, std::vector<Tensor>& out) {
    while (next_ < frames_ && target(next_) == step) {
      out.push_back(x);  // x is never written in place afterwards, so the handle is a snapshot
      ++next_;
    }
  }

 private:
  int64_t target(int f) const {
    if (frames_ == 1) return total_;
    return static_cast<int64_t>(std::llround(static_cast<double>(f) * total_ / (frames_ - 1)));
  }
  int frames_;
  int64_t total_;
  int next_ = 0;
};

// x + gamma * score + sqrt(2 gamma) * z: one unadjusted Langevin step (Peyre, sec. 1).
Tensor langevin_update(const Tensor& x, const Tensor& score, double gamma, const Tensor& z) {
  return x + score * static_cast<float>(gamma) + z * static_cast<float>(std::sqrt(2.0 * gamma));
}

void check_common(const char* who, const Shape& shape, const SamplerOptions& o) {
  MD_CHECK(shape.ndim() >= 2 && shape[0] > 0, who, ": sample shape ", shape.str(),
           " needs a batch axis and at least one data axis");
  MD_CHECK(o.steps >= 0, who, ": steps must be >= 0 (0 for the default), got ", o.steps);
  MD_CHECK(o.step_size >= 0.0 && std::isfinite(o.step_size), who,
           ": step_size must be >= 0 (0 for the default rule), got ", o.step_size);
  MD_CHECK(o.trajectory_frames >= 0, who, ": trajectory_frames must be >= 0, got ",
           o.trajectory_frames);
}

// The VE view of a Denoiser's process at one noise level s (see the file comment).
struct VeLevel {
  double s = 0, t = 0, alpha = 1;
};

double noise_ratio(const Process& p, double t) { return p.sigma(t) / p.alpha(t); }

VeLevel ve_level(const Process& p, double s, const char* who) {
  const double lo = noise_ratio(p, p.t_min()), hi = noise_ratio(p, p.t_max());
  MD_CHECK(std::isfinite(s) && s > 0.0, who, ": noise level must be positive, got ", s);
  // A relative slack so that the process's own end points (e.g. the default sigmas) are accepted.
  MD_CHECK(s >= lo * (1 - 1e-9) && s <= hi * (1 + 1e-9), who, ": noise level ", s,
           " is outside the range [", lo, ", ", hi, "] of sigma(t) / alpha(t) of process '",
           p.name(), "'");
  VeLevel level;
  level.s = s;
  if (p.alpha(p.t_min()) == 1.0 && p.alpha(p.t_max()) == 1.0) {  // VE: alpha = 1 throughout
    level.t = p.t_of_sigma(std::min(std::max(s, lo), hi));
  } else {
    // Bisection on the increasing r(t) = sigma / alpha, to double precision.
    double a = p.t_min(), b = p.t_max();
    for (int it = 0; it < 200 && b - a > 1e-15 * std::max(1.0, b); ++it) {
      const double m = 0.5 * (a + b);
      (noise_ratio(p, m) < s ? a : b) = m;
    }
    level.t = 0.5 * (a + b);
  }
  level.alpha = p.alpha(level.t);
  return level;
}

// grad log q_s(y) = alpha score(alpha y, t)
Tensor ve_score(const Denoiser& d, const Tensor& y, const VeLevel& l) {
  const Tensor tb = time_batch(y.size(0), l.t, y.device());
  if (l.alpha == 1.0) return d.score(y, tb);
  const float a = static_cast<float>(l.alpha);
  return d.score(y * a, tb) * a;
}

// E[X | y] = denoise(alpha y, t) (Tweedie: y + s^2 grad log q_s(y)).
Tensor ve_denoise(const Denoiser& d, const Tensor& y, const VeLevel& l) {
  const Tensor tb = time_batch(y.size(0), l.t, y.device());
  if (l.alpha == 1.0) return d.denoise(y, tb);
  return d.denoise(y * static_cast<float>(l.alpha), tb);
}

double walk_gamma(const SamplerOptions& o, double sigma) {
  return o.step_size > 0.0 ? o.step_size : kWalkStepFactor * sigma * sigma;
}

}  // namespace

Tensor langevin(const ScoreFn& score, const Tensor& x0, int steps, double gamma,
                const SamplerOptions& options) {
  MD_CHECK(steps >= 0, "langevin: steps must be >= 0, got ", steps);
  MD_CHECK(gamma > 0.0 && std::isfinite(gamma), "langevin: step size gamma must be positive, got ",
           gamma);
  MD_CHECK(x0.defined() && x0.ndim() >= 1, "langevin: x0 needs a batch axis");
  NoGradGuard no_grad;
  NoiseStream noise(options, x0.device());
  Tensor x = x0.detach();
  for (int k = 0; k < steps; ++k) {
    const Tensor s = score(x);
    MD_CHECK(s.shape() == x.shape(), "langevin: score returned ", s.shape().str(), " for x ",
             x.shape().str());
    x = langevin_update(x, s, gamma, noise.next(x.shape()));
  }
  return x;
}

// Plain Langevin on p_{t_min}, the least-noised density the denoiser knows, started from the
// process's prior N(0, prior_std^2 I). Defaults: 1000 steps of gamma = 0.5 sigma(t_min)^2. This is
// the baseline that annealing improves on: with such small steps it mixes slowly.
SampleResult langevin_on_denoiser(const Denoiser& d, const Shape& shape, const SamplerOptions& o) {
  check_common("langevin", shape, o);
  NoGradGuard no_grad;
  const Process& p = d.process();
  const double t = p.t_min(), sig = p.sigma(t);
  MD_CHECK(sig > 0.0, "langevin: process '", p.name(), "' has sigma(t_min) = 0; the score there is",
           " undefined");
  const int steps = o.steps > 0 ? o.steps : kPlainSteps;
  const double gamma = o.step_size > 0.0 ? o.step_size : kPlainStepFactor * sig * sig;
  NoiseStream noise(o);
  Frames frames(o.trajectory_frames, steps + (o.denoise_final ? 1 : 0));
  SampleResult r;
  const Tensor tb = time_batch(shape[0], t, o.device);
  Tensor x = noise.next(shape) * static_cast<float>(p.prior_std());
  frames.offer(0, x, r.trajectory);
  for (int k = 0; k < steps; ++k) {
    x = langevin_update(x, d.score(x, tb), gamma, noise.next(shape));
    frames.offer(k + 1, x, r.trajectory);
  }
  r.evaluations = steps;
  if (o.denoise_final) {
    x = d.denoise(x, tb);
    ++r.evaluations;
    frames.offer(steps + 1, x, r.trajectory);
  }
  r.x = x;
  return r;
}

// Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1; Liu, sec. 1.2), in VE coordinates:
// levels sigma_1 > ... > sigma_L (default: L = 10 geometric from r(t_max) to r(t_min), i.e.
// sigma(t_max) to sigma(t_min) for VE), T = options.steps steps per level (default 100), step
// gamma_i = eps sigma_i^2 / sigma_L^2 with eps = options.step_size (default 0.2 sigma_L^2, so
// gamma_i = 0.2 sigma_i^2). Starts from N(0, sigma_1^2 I), which for the default levels of a VE
// process is its prior. Returns y after the last level (X + sigma_L N in law), or E[X | y] at
// sigma_L with denoise_final. evaluations = L T (+ 1).
SampleResult annealed_langevin(const Denoiser& d, const Shape& shape, const SamplerOptions& o) {
  const char* who = "annealed-langevin";
  check_common(who, shape, o);
  NoGradGuard no_grad;
  const Process& p = d.process();
  std::vector<double> sigmas = o.sigmas;
  if (sigmas.empty()) {
    const double hi = noise_ratio(p, p.t_max()), lo = noise_ratio(p, p.t_min());
    MD_CHECK(lo > 0.0, who, ": process '", p.name(), "' has sigma(t_min) = 0");
    for (int i = 0; i < kAnnealedLevels; ++i)
      sigmas.push_back(hi * std::pow(lo / hi, static_cast<double>(i) / (kAnnealedLevels - 1)));
    sigmas.back() = lo;  // exactly, not through pow
  }
  std::vector<VeLevel> levels;
  for (size_t i = 0; i < sigmas.size(); ++i) {
    MD_CHECK(i == 0 || sigmas[i] <= sigmas[i - 1], who, ": sigmas must be given largest first; ",
             "sigmas[", i, "] = ", sigmas[i], " > sigmas[", i - 1, "] = ", sigmas[i - 1]);
    levels.push_back(ve_level(p, sigmas[i], who));
  }
  const int per_level = o.steps > 0 ? o.steps : kAnnealedStepsPerLevel;
  const double sigma_last = sigmas.back();
  const double eps = o.step_size > 0.0 ? o.step_size : kAnnealedEpsFactor * sigma_last * sigma_last;
  NoiseStream noise(o);
  const int64_t total = static_cast<int64_t>(per_level) * static_cast<int64_t>(levels.size());
  Frames frames(o.trajectory_frames, total + (o.denoise_final ? 1 : 0));
  SampleResult r;
  Tensor y = noise.next(shape) * static_cast<float>(sigmas.front());
  frames.offer(0, y, r.trajectory);
  int64_t done = 0;
  for (const VeLevel& l : levels) {
    const double gamma = eps * (l.s * l.s) / (sigma_last * sigma_last);
    for (int k = 0; k < per_level; ++k) {
      y = langevin_update(y, ve_score(d, y, l), gamma, noise.next(shape));
      frames.offer(++done, y, r.trajectory);
    }
  }
  r.evaluations = total;
  if (o.denoise_final) {
    y = ve_denoise(d, y, levels.back());
    ++r.evaluations;
    frames.offer(total + 1, y, r.trajectory);
  }
  r.x = y;
  return r;
}

// Walk-jump sampling (Saremi & Hyvarinen 2019; Bach, "sampling from a single measurement").
// Walk: options.steps (default 1000) Langevin steps on y with grad log q_sigma, sigma =
// options.sigma, gamma = options.step_size or 0.1 sigma^2, from y_0 ~ N(0, (1 + sigma^2) I) (the
// law of X + sigma N for data of unit scale, e.g. images in [-1, 1]). Jump: x = E[X | y] =
// y + sigma^2 grad log q_sigma(y). The trajectory shows the walk y, then the jump (with
// trajectory_frames = steps + 2, frame k is y after k steps and the last one the jump).
// evaluations = steps + 1.
SampleResult walk_jump(const Denoiser& d, const Shape& shape, const SamplerOptions& o) {
  const char* who = "walk-jump";
  check_common(who, shape, o);
  NoGradGuard no_grad;
  const VeLevel level = ve_level(d.process(), o.sigma, who);
  const int steps = o.steps > 0 ? o.steps : kWalkSteps;
  const double gamma = walk_gamma(o, o.sigma);
  NoiseStream noise(o);
  Frames frames(o.trajectory_frames, steps + 1);
  SampleResult r;
  Tensor y = noise.next(shape) * static_cast<float>(std::sqrt(kDataScale * kDataScale +
                                                               o.sigma * o.sigma));
  frames.offer(0, y, r.trajectory);
  for (int k = 0; k < steps; ++k) {
    y = langevin_update(y, ve_score(d, y, level), gamma, noise.next(shape));
    frames.offer(k + 1, y, r.trajectory);
  }
  r.x = ve_denoise(d, y, level);
  r.evaluations = steps + 1;
  frames.offer(steps + 1, r.x, r.trajectory);
  return r;
}

// Sequential multi-measurement sampling (Saremi, Park & Bach 2024, "Chain of log-concave Markov
// chains"; Bach, "multiple measurements"). Measurements Y_i = X + sigma N_i, i = 1..m.
//
// Derivation of the conditional score. With ybar_j = (y_1 + ... + y_j) / j and
// S_j = sum_i |y_i - ybar_j|^2, the identity sum_i |y_i - x|^2 = j |x - ybar_j|^2 + S_j gives
//   p(y_1..y_j) = int p(x) prod_i N(y_i; x, sigma^2 I) dx
//               = (2 pi sigma^2)^{-(j-1) D / 2} j^{-D/2} exp(-S_j / (2 sigma^2)) q_{sigma/sqrt j}(ybar_j),
// because int p(x) N(ybar_j; x, sigma^2/j I) dx = q_{sigma/sqrt j}(ybar_j). Differentiating in y_j
// (grad_{y_j} S_j / 2 = y_j - ybar_j, since sum_i (y_i - ybar_j) = 0; d ybar_j / d y_j = 1/j):
//   grad_{y_j} log p(y_j | y_<j) = grad_{y_j} log p(y_1..y_j)
//       = (ybar_j - y_j) / sigma^2 + (1/j) grad log q_{sigma/sqrt j}(ybar_j)
//       = (1/sigma^2) [ybar_j - y_j + (sigma^2/j) grad log q_{sigma/sqrt j}(ybar_j)]   (Bach's slide)
//       = (E[X | ybar_j] - y_j) / sigma^2,
// the last line by Tweedie at level sigma/sqrt(j): E[X | ybar_j] = ybar_j + (sigma^2/j) grad log q.
// So each conditional is one denoiser call at level sigma/sqrt(j) on ybar_j; its Hessian is
// -(1/sigma^2)[I - Cov(X | y_1..y_j) / sigma^2], so gamma = c sigma^2 suits every j.
//
// Measurement 1 starts from N(0, (1 + sigma^2) I) as in walk-jump; measurement j > 1 starts from
// E[X | ybar_{j-1}] + sigma z, a draw of p(y_j | y_<j) when the posterior of X is concentrated.
// options.steps Langevin steps per measurement (default 250), m = options.measurements, then the
// jump E[X | y_1..y_m] = E[X | ybar_m] at level sigma/sqrt(m). The trajectory shows the running
// mean ybar, then the jump (with trajectory_frames = m steps + 2, frame m steps is ybar_m).
// evaluations = m steps + (m - 1) + 1.
SampleResult multi_measurement(const Denoiser& d, const Shape& shape, const SamplerOptions& o) {
  const char* who = "multi-measurement";
  check_common(who, shape, o);
  MD_CHECK(o.measurements >= 1, who, ": measurements must be >= 1, got ", o.measurements);
  NoGradGuard no_grad;
  const int m = o.measurements;
  const double sigma = o.sigma;
  std::vector<VeLevel> levels;  // levels[j-1]: sigma / sqrt(j)
  for (int j = 1; j <= m; ++j) levels.push_back(ve_level(d.process(), sigma / std::sqrt(j), who));
  const int steps = o.steps > 0 ? o.steps : kMeasurementSteps;
  const double gamma = walk_gamma(o, sigma);
  const float inv_var = static_cast<float>(1.0 / (sigma * sigma));
  NoiseStream noise(o);
  const int64_t total = static_cast<int64_t>(steps) * m;
  Frames frames(o.trajectory_frames, total + 1);
  SampleResult r;
  Tensor sum_prev = zeros(shape, o.device);  // y_1 + ... + y_{j-1}
  Tensor y = noise.next(shape) * static_cast<float>(std::sqrt(kDataScale * kDataScale +
                                                               sigma * sigma));
  frames.offer(0, y, r.trajectory);
  int64_t done = 0;
  for (int j = 1; j <= m; ++j) {
    const VeLevel& l = levels[j - 1];
    const float inv_j = 1.0f / static_cast<float>(j);
    if (j > 1) {
      // Start y_j from E[X | ybar_{j-1}] + sigma z (one denoiser call).
      const Tensor ybar_prev = sum_prev * (1.0f / static_cast<float>(j - 1));
      y = ve_denoise(d, ybar_prev, levels[j - 2]) + noise.next(shape) * static_cast<float>(sigma);
      ++r.evaluations;
    }
    for (int k = 0; k < steps; ++k) {
      const Tensor ybar = (sum_prev + y) * inv_j;
      const Tensor score = (ve_denoise(d, ybar, l) - y) * inv_var;
      y = langevin_update(y, score, gamma, noise.next(shape));
      frames.offer(++done, (sum_prev + y) * inv_j, r.trajectory);
    }
    r.evaluations += steps;
    sum_prev = sum_prev + y;
  }
  r.x = ve_denoise(d, sum_prev * (1.0f / static_cast<float>(m)), levels.back());
  ++r.evaluations;
  frames.offer(total + 1, r.x, r.trajectory);
  return r;
}

}  // namespace mindiff::diffusion
