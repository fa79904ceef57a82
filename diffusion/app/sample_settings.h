// Every setting of `sample`, declared once (diffusion/app/settings.h says what is derived from a
// row): X(type, field, "flag", default, rule, "resume key" (unused here), "help").
#pragma once
#include <set>
#include <string>

#include "diffusion/app/settings.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion {

constexpr rule::Range kSampleCount{1, 1e6};    // --n: a million 28x28 images are 3 GB of floats
constexpr rule::Range kSampleBatch{1, 65536};  // samples per network evaluation
constexpr rule::Range kSamplerSteps{0, 1e6};   // 0: the sampler's default
constexpr rule::Range kSampleThreads{0, 1024};
constexpr rule::Range kClassIndex{-1, 1e6};    // -1: classes in turn
constexpr rule::Range kEta{0, 1};

#define MINDIFF_SAMPLE_SETTINGS(X)                                                                \
  /* ---- the model and the sampler ---- */                                                       \
  X(std::string, checkpoint, "checkpoint", "models/fashion-mnist.ckpt", non_empty, "",            \
    "a checkpoint file, or a run folder")                                                         \
  X(bool, ema, "ema", true, any, "", "use the EMA weights when the checkpoint has them")          \
  X(std::string, sampler, "sampler", "", any, "",                                                 \
    "one of the samplers (default: the model's, diffusion/sampler.h default_sampler)")            \
  X(int64_t, steps, "steps", 0, kSamplerSteps, "", "sampler steps (0: the sampler's default)")    \
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
  /* ---- sampler parameters ---- */                                                              \
  X(double, eta, "eta", 0.0, kEta, "", "ddim: 0 deterministic, 1 ancestral-like")                 \
  X(double, rho, "rho", 7.0, positive, "", "edm-*: spacing of the noise levels (Karras et al. eq. 5)") \
  X(double, s_churn, "s-churn", 40.0, non_negative, "",                                           \
    "edm-stochastic: total churn S_churn (Karras et al. Alg. 2)")                                 \
  X(double, s_tmin, "s-tmin", 0.05, non_negative, "", "edm-stochastic: churn only above this noise level") \
  X(double, s_tmax, "s-tmax", 50.0, non_negative, "", "edm-stochastic: churn only below this noise level") \
  X(double, s_noise, "s-noise", 1.003, positive, "", "edm-stochastic: scale of the churn noise")  \
  /* ---- where it runs, what it writes ---- */                                                   \
  X(int64_t, threads, "threads", 0, kSampleThreads, "", "CPU threads (0: all cores)")             \
  X(std::string, device, "device", "cpu", non_empty, "",                                          \
    "cpu, or cuda (an NVIDIA GPU; `make cuda` builds sample_cuda)")                               \
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
void validate(const SampleSettings& s);
// The sampler's options the settings give (steps, eta, EDM's parameters, seed, device).
SamplerOptions sampler_options(const SampleSettings& s, Device device);

}  // namespace mindiff::diffusion
