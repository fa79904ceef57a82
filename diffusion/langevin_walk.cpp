// Langevin chains (update rules and step rules in langevin_walk.h).
#include "diffusion/langevin_walk.h"

#include <algorithm>
#include <cmath>

namespace mindiff::diffusion::detail {

namespace {

constexpr double kMaxWalkSteps = 1e6;  // the most a rule may ask for (as `sample --steps` allows)

// Per-row sums of squares of a [B, ...] host tensor, in double.
std::vector<double> row_squares(const Tensor& x) {
  const std::vector<float> v = x.to_vector();
  const int64_t b = x.size(0), p = b > 0 ? x.numel() / b : 0;
  std::vector<double> out(b, 0.0);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < p; ++j) out[i] += double(v[i * p + j]) * v[i * p + j];
  return out;
}

// Rows of `a` where keep[b], else rows of `b`, on a's device.
Tensor select_rows(const std::vector<bool>& keep, const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.to_vector();
  const std::vector<float> vb = b.to_vector();
  const int64_t p = a.numel() / a.size(0);
  for (int64_t i = 0; i < a.size(0); ++i)
    if (!keep[i]) std::copy(vb.begin() + i * p, vb.begin() + (i + 1) * p, va.begin() + i * p);
  return from_data(va, a.shape()).to(a.device());
}

}  // namespace

Tensor langevin_step(const Tensor& y, double gamma, const Tensor& score, const Tensor& xi) {
  return lincomb(1.0, y, gamma, score, std::sqrt(2 * gamma), xi);
}

WalkRule walk_rule(Walk kind, bool metropolis, double s, double S, const SamplerOptions& o) {
  MD_CHECK(kind != Walk::Default, "walk_rule: the walk must be resolved");
  WalkRule r;
  r.kind = kind;
  r.metropolis = metropolis;
  if (kind == Walk::Underdamped) {
    r.step = o.step_size > 0 ? o.step_size : kUnderdampedStep * s;
    r.friction = o.friction > 0 ? o.friction : 2.0 / S;
  } else {
    r.step = o.step_size > 0 ? o.step_size : (metropolis ? kMalaStep : kOverdampedStep) * s * s;
  }
  return r;
}

double walk_relaxations(const SamplerOptions& o) {
  MD_CHECK(o.start != ChainStart::Default, "walk_relaxations: the start must be resolved");
  return o.start == ChainStart::Descent ? kWarmStartRelaxations : kRelaxations;
}

int walk_steps(const WalkRule& r, double S, double relaxations) {
  double steps_per_relaxation = S * S / r.step;  // overdamped: (1 - gamma / S^2) per step
  if (r.kind == Walk::Underdamped) {
    // A direction of frequency w = 1 / S relaxes at rate lambda / 2 when lambda < 2 w (it
    // oscillates), (lambda - sqrt(lambda^2 - 4 w^2)) / 2 otherwise: w at critical damping.
    // At the default friction l = 2 / S is 2 w up to rounding, which must not make the root's
    // argument negative.
    const double w = 1.0 / S, l = r.friction;
    const double rate =
        l < 2 * w ? 0.5 * l : 0.5 * (l - std::sqrt(std::max(0.0, l * l - 4 * w * w)));
    steps_per_relaxation = 1.0 / (rate * r.step);
  }
  const double steps = std::ceil(relaxations * steps_per_relaxation);
  MD_CHECK(std::isfinite(steps) && steps <= kMaxWalkSteps, "a walk of step ", r.step,
           " and friction ", r.friction, " needs ", steps, " steps for ", relaxations,
           " relaxation times of a direction of std ", S, " (more than ", kMaxWalkSteps,
           "); give --steps, or a larger --step-size");
  return static_cast<int>(steps);
}

double level_spread(double s) { return std::sqrt(kDataScale * kDataScale + s * s); }

int start_steps(const SamplerOptions& o) {
  MD_CHECK(o.start != ChainStart::Default, "start_steps: the start must be resolved");
  return o.start == ChainStart::Descent ? kDescentSteps : 0;
}

Tensor chain_start(SamplerRun& run, const NoiseLevel& level, double spread, Trajectory& traj) {
  if (start_steps(run.options()) == 0)  // from noise
    return run.noise(0) * static_cast<float>(spread);
  const Process& p = run.process();
  const Tensor prior = run.prior();
  if (level.t >= p.t_max()) {  // the chain walks at the prior's own level: nothing to descend
    for (int i = 0; i < kDescentSteps; ++i) traj.record(i, prior);
    return prior * static_cast<float>(1.0 / p.alpha(p.t_max()));
  }
  traj.record(0, prior);
  return dpm_solver_pp(run, prior, level.t, kDescentSteps, &traj) *
         static_cast<float>(1.0 / level.alpha);
}

WalkDensity level_density(SamplerRun& run, const NoiseLevel& level) {
  WalkDensity q;
  q.score = [&run, level](const Tensor& y) { return run.score_at(y, level); };
  if (run.denoiser().has_log_density())
    q.log_density = [&run, level](const Tensor& y) { return run.log_density_at(y, level); };
  return q;
}

WalkDensity energy_density(SamplerRun& run) {
  WalkDensity q;
  q.score = [&run](const Tensor& y) { return run.energy_score(y); };
  q.log_density = [&run](const Tensor& y) { return run.energy_log_density(y); };
  return q;
}

LangevinChain::LangevinChain(SamplerRun& run, const WalkRule& rule, Tensor y, uint64_t first_draw)
    : run_(run), rule_(rule), y_(std::move(y)), draw_(first_draw) {}

void LangevinChain::move_to(Tensor y) {
  y_ = std::move(y);
  v_ = Tensor();
  density_changed();
}

Tensor LangevinChain::noise() { return run_.noise(draw_++, y_.shape()); }

void LangevinChain::step(const WalkDensity& q) {
  if (!score_.defined()) score_ = q.score(y_);
  const double h = rule_.step;
  if (rule_.kind == Walk::Underdamped) {
    // The velocity starts from its stationary law N(0, I), so that a chain whose position
    // already has the law q (a descent's start, a measurement's draw) stays in equilibrium;
    // from rest, its kinetic energy would first be drawn from the positions, which swings their
    // spread for a few relaxation times.
    if (!v_.defined()) v_ = noise();
    const double a = std::exp(-rule_.friction * h);
    v_ = lincomb(1.0, v_, 0.5 * h, score_);                                         // B
    y_ = lincomb(1.0, y_, 0.5 * h, v_);                                             // A
    v_ = lincomb(a, v_, std::sqrt(-std::expm1(-2 * rule_.friction * h)), noise());  // O
    y_ = lincomb(1.0, y_, 0.5 * h, v_);                                             // A
    score_ = q.score(y_);
    v_ = lincomb(1.0, v_, 0.5 * h, score_);  // B
    return;
  }
  const Tensor xi = noise();
  const Tensor proposal = langevin_step(y_, h, score_, xi);
  if (!rule_.metropolis) {
    y_ = proposal;
    score_ = Tensor();
    return;
  }
  // MALA: log acceptance = log q(y') - log q(y) + log k(y | y') - log k(y' | y), with
  // log k(y' | y) = -|xi|^2 / 2 and log k(y | y') = -|y - y' - gamma g(y')|^2 / (4 gamma).
  MD_CHECK(q.log_density,
           "mala: the density has no log-density (needs an exact target or an energy)");
  const Tensor g_new = q.score(proposal);
  if (log_q_.empty()) log_q_ = q.log_density(y_);
  const std::vector<double> lq_new = q.log_density(proposal);
  const std::vector<double> forward = row_squares(xi.to(Device::CPU));
  const std::vector<double> backward =
      row_squares(lincomb(1.0, y_, -1.0, proposal, -h, g_new).to(Device::CPU));
  const std::vector<float> z = run_.noise(draw_++, Shape({y_.size(0), 1})).to_vector();
  std::vector<bool> keep(y_.size(0));
  for (size_t b = 0; b < keep.size(); ++b) {
    const double log_accept = lq_new[b] - log_q_[b] - backward[b] / (4 * h) + 0.5 * forward[b];
    const double u = 0.5 * std::erfc(-z[b] / std::sqrt(2.0));  // U(0, 1) from the normal draw
    keep[b] = std::log(u) < log_accept;
    accepted_ += keep[b];
    if (keep[b]) log_q_[b] = lq_new[b];
  }
  proposed_ += static_cast<int64_t>(keep.size());
  y_ = select_rows(keep, proposal, y_);
  score_ = select_rows(keep, g_new, score_);
}

}  // namespace mindiff::diffusion::detail
