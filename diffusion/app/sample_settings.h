// Every setting of `sample`, declared once (diffusion/app/settings.h says what is derived from a
// row): X(type, field, "flag", default, rule, "resume key" (unused here), "help").
#pragma once
#include <set>
#include <string>

#include "diffusion/app/settings.h"
#include "diffusion/sampler.h"
#include "diffusion/targets.h"

namespace mindiff::diffusion {

constexpr rule::Range kSampleCount{1, 1e6};    // --n: a million 28x28 images are 3 GB of floats
constexpr rule::Range kSampleBatch{1, 65536};  // samples per network evaluation
constexpr rule::Range kSamplerSteps{0, 1e6};   // 0: the sampler's default
constexpr rule::Range kSampleThreads{0, 1024};
constexpr rule::Range kClassIndex{-1, 1e6};    // -1: classes in turn
constexpr rule::Range kEta{0, 1};
constexpr rule::Range kCorrectorSteps{0, 1e6};
constexpr rule::OneOf kWalks{"auto overdamped underdamped"};
constexpr rule::OneOf kChainStarts{"auto noise descent"};
constexpr rule::AutoCount kMeasurements{1, 1e6};
constexpr rule::AutoCount kMeasurementSteps{1, 1e6};
constexpr rule::AutoCount kLevels{2, 1e6};  // a geometric sequence of levels has two ends
constexpr rule::Range kLikelihoodN{2, 1e7};  // a standard error needs two points
constexpr rule::OneOf kTraces{"auto exact rademacher gaussian"};
constexpr rule::Range kProbes{1, 1e5};
constexpr int kTrajectoryFrames = 10;  // --trajectory: snapshots from noise to samples
constexpr rule::Range kLikelihoodSteps{1, 1e5};
// The sampler parameters whose defaults are numbers take SamplerOptions' (sampler.h), so that
// the library and the command line cannot disagree; those whose default is a rule are "auto".
inline const SamplerOptions kSamplerDefaults{};

#define MINDIFF_SAMPLE_SETTINGS(X)                                                                \
  /* ---- the model and the sampler ---- */                                                       \
  X(std::string, checkpoint, "checkpoint", "models/fashion-mnist.ckpt", non_empty, "",            \
    "a checkpoint file, or a run folder")                                                         \
  X(bool, ema, "ema", true, any, "", "use the EMA weights when the checkpoint has them")          \
  X(std::string, sampler, "sampler", "", any, "",                                                 \
    "one of the samplers (default: edm-heun with 18 steps for image models of the EDM process, "  \
    "dpm-solver++ otherwise, langevin for an energy; diffusion/sampler.h default_sampler)")       \
  X(int64_t, steps, "steps", 0, kSamplerSteps, "",                                                \
    "sampler steps (0: the sampler's default, or the default sampler's, see --sampler)")          \
  X(int64_t, n, "n", 64, kSampleCount, "", "how many samples")                                    \
  X(int64_t, batch, "batch", 64, kSampleBatch, "",                                                \
    "samples per network evaluation (memory; does not change results)")                           \
  X(int64_t, seed, "seed", 0, non_negative, "", "noise seed")                                     \
  X(int64_t, label, "class", -1, kClassIndex, "",                                                 \
    "class to draw, for class-conditional models (-1: cycle through all)")                        \
  X(double, guidance, "guidance", 0.0, finite, "",                                                \
    "classifier-free guidance scale w (0: plain conditional)")                                    \
  X(bool, clip, "clip", true, any, "",                                                            \
    "image models: clip the denoised estimate to [-1, 1] at every step")                          \
  X(bool, denoise_final, "denoise-final", false, any, "", "finish with one Tweedie denoising step") \
  /* ---- sampler parameters (each sampler refuses those it does not read) ---- */                \
  X(double, eta, "eta", kSamplerDefaults.eta, kEta, "", "ddim: 0 deterministic, 1 ancestral-like") \
  X(double, snr, "snr", kSamplerDefaults.snr, positive, "",                                       \
    "pc: the Langevin corrector's signal-to-noise ratio")                                         \
  X(int64_t, corrector_steps, "corrector-steps", kSamplerDefaults.corrector_steps,                \
    kCorrectorSteps, "", "pc: Langevin corrections after each predictor step")                    \
  X(double, rtol, "rtol", kSamplerDefaults.rtol, positive, "", "ode-rk45: relative tolerance")    \
  X(double, atol, "atol", kSamplerDefaults.atol, positive, "", "ode-rk45: absolute tolerance")    \
  X(double, rho, "rho", kSamplerDefaults.rho, positive, "",                                       \
    "edm-*, stochastic-localization: spacing of the noise levels (Karras et al. eq. 5)")          \
  X(std::string, s_churn, "s-churn", "auto", auto_positive, "",                                   \
    "edm-stochastic: total churn S_churn (auto: its rule, sample_edm.cpp; edm-heun is no churn)") \
  X(double, s_tmin, "s-tmin", kSamplerDefaults.s_tmin, non_negative, "",                          \
    "edm-stochastic: churn only at noise levels >= this")                                         \
  X(double, s_tmax, "s-tmax", kSamplerDefaults.s_tmax, non_negative, "",                          \
    "edm-stochastic: churn only at noise levels <= this")                                         \
  X(double, s_noise, "s-noise", kSamplerDefaults.s_noise, positive, "",                           \
    "edm-stochastic: scale of the churn noise")                                                   \
  X(std::string, walk, "walk", "auto", kWalks, "",                                                \
    "Langevin family: overdamped or underdamped (kinetic) chains (auto: the sampler's)")          \
  X(std::string, step_size, "step-size", "auto", auto_positive, "",                               \
    "Langevin family: the step gamma of y + gamma grad log q + sqrt(2 gamma) z (overdamped; "     \
    "annealed-langevin: at the smallest level, NCSN's eps = 2 gamma), or the time step h "        \
    "(underdamped) (auto: the rule of diffusion/langevin_walk.h)")                                \
  X(std::string, friction, "friction", "auto", auto_positive, "",                                 \
    "Langevin family, underdamped: the velocity's friction (auto: langevin_walk.h's rule)")      \
  X(std::string, sigma, "sigma", "auto", auto_positive, "",                                       \
    "langevin, mala, walk-jump: the noise level of the walk; multi-measurement, jms: of each "    \
    "measurement (auto: the sampler's)")                                                          \
  X(std::string, chain_start, "chain-start", "auto", kChainStarts, "",                            \
    "langevin, mala, walk-jump, multi-measurement, jms: start the chain from noise, or from a "   \
    "short probability-flow descent to its level (auto: descent, noise for an energy)")          \
  X(std::string, measurements, "measurements", "auto", kMeasurements, "",                         \
    "multi-measurement, jms: the number of measurements m (auto: the sampler's)")                 \
  X(std::string, measurement_steps, "measurement-steps", "auto", kMeasurementSteps, "",           \
    "multi-measurement: Langevin steps for each measurement after the first (--steps: the "       \
    "first) (auto: the sampler's)")                                                               \
  X(std::string, levels, "levels", "auto", kLevels, "",                                           \
    "annealed-langevin: the number of noise levels (auto: the sampler's)")                        \
  X(std::string, sigma_max, "sigma-max", "auto", auto_positive, "",                               \
    "annealed-langevin, stochastic-localization: the largest noise level (auto: the sampler's)")  \
  X(std::string, sigma_min, "sigma-min", "auto", auto_positive, "",                               \
    "annealed-langevin, stochastic-localization: the smallest noise level (auto: the sampler's)") \
  /* ---- an exact target in place of a network (diffusion/targets.h, docs/samplers.md) ---- */   \
  X(std::string, target, "target", "", any, "",                                                   \
    "sample an exact target instead of a network: gmm8, ring, two-gaussians[:D[,TAU]], "          \
    "double-well, funnel, banana, or a mixture file")                                             \
  X(std::string, schedule, "schedule", kTargetSchedule, non_empty, "",                            \
    "--target: the forward process whose noised score of the mixture the samplers use "           \
    "(ddpm-linear, ddpm-cosine, vp, subvp, ve, ou, edm)")                                         \
  /* ---- likelihoods and checks (diffusion/likelihood_report.h, diffusion/sample_check.h) ---- */ \
  X(bool, likelihood, "likelihood", false, any, "",                                               \
    "print bits/dim of --likelihood-n data points (the target's exact samples, or the model's "   \
    "data) instead of sampling")                                                                  \
  X(int64_t, likelihood_n, "likelihood-n", 1000, kLikelihoodN, "", "--likelihood: how many points") \
  X(std::string, trace, "trace", "auto", kTraces, "",                                             \
    "--likelihood: the divergence, exact or rademacher or gaussian (Hutchinson); auto: exact up " \
    "to 64 values per point")                                                                     \
  X(int64_t, probes, "probes", 1, kProbes, "", "--likelihood: Hutchinson probes per point")       \
  X(int64_t, likelihood_steps, "likelihood-steps", 100, kLikelihoodSteps, "",                     \
    "--likelihood: RK4 steps of the probability-flow ODE")                                        \
  X(std::string, check, "check", "", any, "",                                                     \
    "compare the samples with as many exact draws of NAME (a target or a 2-D toy set): energy "   \
    "distance, mode weights and spreads against their exact-versus-exact 95th percentiles")       \
  /* ---- where it runs, what it writes ---- */                                                   \
  X(int64_t, threads, "threads", 0, kSampleThreads, "", "CPU threads (0: all cores)")             \
  X(std::string, device, "device", "cpu", non_empty, "",                                          \
    "cpu, or cuda (an NVIDIA GPU; `make cuda` builds sample_cuda)")                               \
  X(std::string, precision, "precision", "fp32", non_empty, "",                                   \
    "--device cuda: fp32, or tf32 (matrix products and convolutions on TF32 tensor cores: "      \
    "10-bit mantissas, FP32 sums; norms, softmax, reductions and the optimizer stay FP32)")                                                                           \
  X(std::string, out, "out", "samples.png", non_empty, "",                                        \
    "a .png grid (scatter plot for 2-D models) or a .npy array")                                  \
  X(std::string, trajectory, "trajectory", "", any, "", "also write x_t from noise to data as FILE.png") \
  X(std::string, score_field, "score-field", "", any, "",                                         \
    "2-D models: also draw the score at --field-time as arrows in FILE.png")                      \
  X(double, field_time, "field-time", -1.0, finite, "",                                           \
    "time of the score field (< 0: the process's smallest time)")                                 \
  /* ---- measuring the samples ---- */                                                           \
  X(bool, score, "score", false, any, "",                                                         \
    "score the samples: Frechet distance on the classifier's features against its test set, "     \
    "with the floor of N training images, and the class histogram")                               \
  X(std::string, score_file, "score-file", "", any, "",                                           \
    "score the images of FILE.npy (N, C, H, W) in [-1, 1] instead of sampling")                   \
  X(std::string, classifier, "classifier", "models/classifier.ckpt", non_empty, "",               \
    "the classifier for scoring (a file or a folder)")

struct SampleSettings {
  MINDIFF_SAMPLE_SETTINGS(MINDIFF_SETTING_FIELD)
  std::set<std::string> given;  // the flags given on the command line
};

// Reads argv into settings, each value checked against its rule and validate(). Returns false
// when --help was asked (the usage is then printed). Errors name the flag and the value.
bool parse_sample_settings(int argc, const char* const* argv, SampleSettings& s);
// Relations between settings that no single rule states (the output names, s-tmin <= s-tmax,
// sigma-min < sigma-max, the names of --target, --schedule and --check, the flags that belong
// to --target, to a network or to --likelihood); throws naming the flags and values, before
// anything is read or written.
void validate(const SampleSettings& s);
// The sampler's options the settings give (steps, every sampler parameter with 0 for auto, seed,
// device, trajectory frames).
SamplerOptions sampler_options(const SampleSettings& s, Device device);

// The sampler to run and its options: --sampler, or `fallback` (sampler.h default_sampler for the
// model or target). The default sampler keeps its step count unless --steps is given, named or
// not: `--sampler edm-heun` on an EDM image model is the default, 18 steps.
struct SamplerChoice {
  std::string name;
  SamplerOptions options;
};
SamplerChoice choose_sampler(const SampleSettings& s, const DefaultSampler& fallback,
                             Device device);

}  // namespace mindiff::diffusion
