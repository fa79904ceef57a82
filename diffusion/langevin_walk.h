// Langevin chains: the walk every sampler of the Langevin family takes (private to the samplers;
// sampler_toolkit.h). A chain samples a density q through its score g = grad log q.
//
// One convention, the Euler-Maruyama step of dY = g(Y) dt + sqrt(2) dW (Peyre, section 1; Bach):
//
//   overdamped    y <- y + gamma g(y) + sqrt(2 gamma) xi,                      xi ~ N(0, I)
//
// NCSN (Song & Ermon 2019, Alg. 1) writes the same step y + (alpha_i / 2) g + sqrt(alpha_i) z,
// so its alpha_i is 2 gamma here (and its eps = alpha_L is 2 gamma at the smallest level).
//
//   underdamped   the kinetic Langevin dynamics dY = V dt, dV = g(Y) dt - lambda V dt +
//                 sqrt(2 lambda) dW (unit mass, friction lambda), whose stationary law is
//                 q(y) N(v; 0, I), discretised by the BAOAB splitting (Leimkuhler & Matthews 2013):
//                   v += (h/2) g(y);  y += (h/2) v;  v = a v + sqrt(1 - a^2) xi (a = e^{-lambda h});
//                   y += (h/2) v;  v += (h/2) g(y)
//                 one score per step (the last half kick's score is the next step's first).
//                 Saremi & Hyvarinen 2019 walk this way (with another splitting). On a Gaussian
//                 BAOAB's positions have exactly the right variance at any stable step (hw < 2),
//                 where the overdamped chain's is too large by 1 / (1 - gamma w^2 / 2).
//   mala          the overdamped step as a proposal y', kept with probability
//                 min(1, q(y') k(y | y') / (q(y) k(y' | y))), k(b | a) = N(b; a + gamma g(a), 2 gamma I)
//                 (Roberts & Tweedie 1996): the Metropolis correction makes q exactly stationary.
//
// Step rules (the defaults; SamplerOptions overrides each). A density whose -log has curvature
// at most 1 / s^2 and whose slowest direction has standard deviation S -- for q_s, the density of
// X + s N, the first holds whatever X is: its Hessian is -(1/s^2)[I - Cov(X | y) / s^2] (Bach,
// "more and more log-concave"), and S = sqrt(kDataScale^2 + s^2) for data of unit scale -- gets
//
//   overdamped    gamma = kOverdampedStep s^2   (stable below 2 s^2; the stationary variance is
//                 at most 1 / (1 - kOverdampedStep / 2) too large, in the stiffest direction only)
//   mala          gamma = kMalaStep s^2         (exact whatever the step; larger steps than the
//                 unadjusted chain, at the price of rejections)
//   underdamped   h = kUnderdampedStep s, lambda = 2 / S (critical damping of the slowest
//                 direction, which then relaxes at rate 1 / S, as does every faster one). BAOAB
//                 is stable up to h = 2 s; at h = s walk-jump's samples of the 16-D mixture of
//                 the acceptance tests still came out up to 2.4% too narrow after its 101 steps
//                 from noise, at h = s / 2 (202 steps) within 1%
//   steps         kRelaxations relaxation times of the slowest direction from noise, or
//                 kWarmStartRelaxations from a start near the walk's law (a descent, chain_start
//                 below; a later measurement's E[X | ybar] + sigma z): S^2 / gamma steps
//                 each overdamped, S / h underdamped (so the kinetic walk needs sqrt of the steps).
#pragma once
#include <functional>
#include <vector>

#include "diffusion/sampler_toolkit.h"

namespace mindiff::diffusion::detail {

constexpr double kOverdampedStep = 0.5;
constexpr double kMalaStep = 1.0;
constexpr double kUnderdampedStep = 0.5;
constexpr double kRelaxations = 10.0;
// From a descent the samples already have each mode's weight and nearly its shape, and the walk
// only settles the shape (so too for multi-measurement's later measurements, which start at their
// conditional's mean plus its noise): on the exact 16-D mixture of the acceptance tests the descent alone left
// the modes' spread 1.3-1.7 times the exact percentile off, and two relaxations of the walk
// brought it to 0.54-1.05 (langevin) and 0.69-1.32 (walk-jump), seeds 1-3. A longer walk cannot
// help on exact scores and does harm on networks: a walk at one small level drifts towards the
// network's own stationary weights, which are wrong (gmm8's model, langevin, seed 0: energy 0.71
// times the percentile after two relaxations, 3.26 after ten; docs/samplers.md).
constexpr double kWarmStartRelaxations = 2.0;
// The scale of the data that denoiser-driven chains assume (walk-jump's start N(0, (1 + s^2) I)
// included): images in [-1, 1], toy sets of unit-order spread. Larger data needs more --steps.
constexpr double kDataScale = 1.0;
// Default levels, each argued for in the file of the sampler that uses it: langevin, mala and
// walk-jump walk at kWalkLevel; multi-measurement and jms take kMeasurements measurements at
// kMeasurementLevel, so that their jump is at kMeasurementLevel / sqrt(kMeasurements).
constexpr double kWalkLevel = 0.1;
constexpr double kMeasurementLevel = 0.25;
constexpr int kMeasurements = 16;

// How a chain at one level s of a denoiser starts (SamplerOptions::start):
//   noise     y ~ N(0, S^2 I) with S = level_spread(s) (draw 0): the law of X + s N for data of
//             unit scale and no structure, as Saremi & Hyvarinen start their walk
//   descent   draw 0 as the process's prior, carried from the process's t_max down to the
//             level's time by kDescentSteps steps of DPM-Solver++(2M) on the probability-flow ODE
//             (dpm_solver_pp, sample_dpm.cpp), then y = x_t / alpha: kDescentSteps evaluations,
//             no noise of its own. Its samples have each mode's weight as the large levels
//             decide it (where a network's score is most accurate), and the walk then only has
//             to settle each mode's shape at s (kWarmStartRelaxations).
// Why the descent is the default for denoisers: at a small level the modes of q_s are separated
// by regions of almost no probability, so a walk from noise keeps the proportions in which its
// start fell into their basins (right only by symmetry, as on the ring) and moves mass between
// modes only through those regions, where a network's score was never trained; on networks trained
// with the 2-D defaults walks from noise put the modes' weights off by several times the exact
// percentile (docs/samplers.md has the figures, both starts).
// 20 steps. The walk corrects the shape a descent leaves but not the weights it gives, so those
// must be converged: on the unbalanced 16-D mixture (tests/data/modes16.txt, seeds 1-3) the mode
// weight errors were 0.48, 0.73, 1.15 times the exact percentile after 10 steps, 0.83, 0.48, 0.69
// after 20 and 0.93, 0.44, 0.59 after 30 -- the 50-step dpm-solver++'s own figures. Spreads after
// the descent alone: 1.9-2.4 times the percentile at 10 steps, 1.3-1.7 at 20. Heun's method over
// Karras et al.'s levels left 9.4-9.9 at 10 steps (20 evaluations).
constexpr int kDescentSteps = 20;

// The chain's start at `level` under the run's options (above); `spread` is S of the noise start.
// A descent offers its states to `traj` as steps 0 (the prior) to kDescentSteps - 1, in the
// process's coordinates x_t, so a trajectory shows the way from noise; the caller records the
// returned start as step start_steps(options) and the walk after it.
Tensor chain_start(SamplerRun& run, const NoiseLevel& level, double spread, Trajectory& traj);
// The trajectory steps the start takes: kDescentSteps for a descent, 0 from noise.
int start_steps(const SamplerOptions& o);

// The overdamped step y + gamma score + sqrt(2 gamma) xi: the unadjusted chain's update, MALA's
// proposal, and pc's corrector (sample_sde.cpp).
Tensor langevin_step(const Tensor& y, double gamma, const Tensor& score, const Tensor& xi);

// A chain's settings, resolved.
struct WalkRule {
  Walk kind = Walk::Overdamped;
  double step = 0;      // gamma (overdamped, mala) or h (underdamped)
  double friction = 0;  // lambda (underdamped)
  bool metropolis = false;
};

// The rule above for smallest and largest scales s and S, with the options' explicit step size
// and friction (when > 0) taking precedence; `kind` already resolved.
WalkRule walk_rule(Walk kind, bool metropolis, double s, double S, const SamplerOptions& o);
// The relaxation times a walk takes by default after the options' (resolved) start.
double walk_relaxations(const SamplerOptions& o);
// Steps for `relaxations` relaxation times of a direction of std S under `rule`.
int walk_steps(const WalkRule& rule, double S, double relaxations);
// S for the density of X + s N of unit-scale data.
double level_spread(double s);

// What a chain samples at the moment: the score of q and, for MALA, log q up to a constant.
struct WalkDensity {
  std::function<Tensor(const Tensor&)> score;
  std::function<std::vector<double>(const Tensor&)> log_density;
};
// q_s at a level of the run's denoiser (with the log-density when the denoiser has one), or the
// run's energy.
WalkDensity level_density(SamplerRun& run, const NoiseLevel& level);
WalkDensity energy_density(SamplerRun& run);

// The state of one chain: the position y [B, ...], the velocity (underdamped), the score at y
// (and, for mala, log q(y)) kept for the next step, and its own noise draws, numbered from
// `first_draw` on in the order it takes them (one per step, and one for the underdamped walk's
// first velocity at each new position; two per step for mala: the proposal's and the
// acceptance's).
class LangevinChain {
 public:
  LangevinChain(SamplerRun& run, const WalkRule& rule, Tensor y, uint64_t first_draw = 1);
  // One step on q.
  void step(const WalkDensity& q);
  // q changed (a new level, a new measurement): drop the kept score; the velocity stays.
  void density_changed() {
    score_ = Tensor();
    log_q_.clear();
  }
  void set_rule(const WalkRule& rule) { rule_ = rule; }
  // A new position (the velocity is drawn afresh from N(0, I) at the next underdamped step).
  void move_to(Tensor y);
  const Tensor& y() const { return y_; }
  // Fresh standard normal noise of y's shape from the chain's draws (for restarts).
  Tensor noise();
  int64_t accepted() const { return accepted_; }
  int64_t proposed() const { return proposed_; }

 private:
  SamplerRun& run_;
  WalkRule rule_;
  Tensor y_, v_, score_;
  std::vector<double> log_q_;  // mala: log q(y) per sample
  uint64_t draw_;
  int64_t accepted_ = 0, proposed_ = 0;
};

}  // namespace mindiff::diffusion::detail
