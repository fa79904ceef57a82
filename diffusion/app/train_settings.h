// Every setting of `train`, declared once (diffusion/app/settings.h says what is derived from a
// row): X(type, field, "flag", default, rule, "resume key", "help").
#pragma once
#include <map>
#include <set>
#include <string>

#include "diffusion/app/settings.h"
#include "diffusion/objectives.h"

namespace mindiff::diffusion {

constexpr rule::Range kChannels{1, 3};        // and not 2: checked in validate()
constexpr rule::Range kImageSize{4, 4096};    // image folders' resize target, pixels a side
constexpr rule::Range kThreads{0, 1024};      // 0: all cores
constexpr rule::Range kPreviewN{1, 4096};     // images per preview grid

#define MINDIFF_TRAIN_SETTINGS(X)                                                                 \
  X(std::string, model, "model", "diffusion", non_empty, "",                                      \
    "diffusion, or classifier: the CNN that `sample --score` measures samples with (reads --data " \
    "--config --epochs --batch --lr --weight-decay --seed --threads --out --log-every; defaults "  \
    "--batch 128 --lr 2e-3 --weight-decay 1e-4 --out runs/classifier, --out FILE.ckpt or a "       \
    "folder; no resume)")                                                                         \
  X(int64_t, epochs, "epochs", 2, positive, "", "--model classifier: passes over the data")       \
  /* ---- data ---- */                                                                            \
  X(std::string, data, "data", "fashion-mnist", non_empty, "data",                                \
    "fashion-mnist, mnist:DIR, cifar10:DIR, folder:DIR (or a folder), or a 2-D toy set (gmm8, "   \
    "moons, swissroll, checkerboard, ...)")                                                       \
  X(bool, conditional, "conditional", false, any, "conditional",                                  \
    "condition on the data's class labels")                                                       \
  X(bool, hflip, "hflip", false, any, "", "random horizontal flips of training images")           \
  X(int64_t, image_size, "image-size", 32, kImageSize, "", "image folders: resize and crop to this size") \
  X(int64_t, channels, "channels", 3, kChannels, "", "image folders: 1 (grayscale) or 3 (RGB)")   \
  /* ---- the network, the forward process and the objective ---- */                              \
  X(std::string, config, "config", "", any, "model",                                              \
    "network (default: small for images, mlp for vectors): small, cifar, tiny (U-Net) or mlp, "    \
    "plus key=value overrides, e.g. \"small base=16 mult=1,2 attn=none\"")                        \
  X(std::string, schedule, "schedule", "edm", non_empty, "process",                               \
    "forward process: ddpm-linear, ddpm-cosine, ddpm-cosine-shifted:R (log SNR + 2 ln R), vp, "   \
    "subvp, ve, ou, edm (the default from docs/recipes.md; ddpm-linear for 2-D toy sets)")        \
  X(std::string, objective, "objective", "edm", non_empty, "objective",                           \
    "what the network predicts: eps, x0, score, v, or edm (EDM's preconditioned denoiser; the "    \
    "default, eps for 2-D toy sets)")                                                             \
  X(double, sigma_data, "sigma-data", 0.5, positive, "sigma_data",                                \
    "--objective edm: the standard deviation of the data")                                        \
  X(double, min_snr_gamma, "min-snr-gamma", 0.0, non_negative, "min_snr_gamma",                   \
    "min-SNR-gamma loss weighting of eps, x0 or v (0: off)")                                      \
  X(double, p_mean, "p-mean", -1.2, finite, "p_mean",                                             \
    "--schedule edm: training noise levels ln(sigma) ~ N(p-mean, p-std^2)")                       \
  X(double, p_std, "p-std", 1.2, positive, "p_std", "--schedule edm: see --p-mean")               \
  X(double, p_uncond, "p-uncond", 0.1, fraction, "",                                              \
    "label dropout for classifier-free guidance (with --conditional)")                            \
  /* ---- optimisation ---- */                                                                    \
  X(int64_t, steps, "steps", 10000, positive, "", "optimizer steps in total")                     \
  X(int64_t, stop_at, "stop-at", 0, non_negative, "",                                             \
    "end this run at this step and write model.ckpt there, keeping the learning-rate schedule "   \
    "of --steps (0: at --steps); the same command with a larger value continues the run")         \
  X(int64_t, batch, "batch", 64, positive, "batch", "examples per step")                          \
  X(double, lr, "lr", 1e-3, positive, "", "peak learning rate (AdamW)")                           \
  X(double, min_lr, "min-lr", 2e-5, non_negative, "", "learning rate at the end of the cosine decay") \
  X(int64_t, warmup, "warmup", 500, non_negative, "", "linear warm-up steps")                     \
  X(double, weight_decay, "weight-decay", 0.0, non_negative, "", "AdamW decoupled weight decay")  \
  X(double, grad_clip, "grad-clip", 1.0, non_negative, "",                                        \
    "clip gradients to this global norm (0: off)")                                                \
  X(double, ema_decay, "ema-decay", 0.999, fraction, "ema_decay",                                 \
    "decay of the weights' moving average (0: no EMA)")                                           \
  X(int64_t, seed, "seed", 0, non_negative, "seed", "seed of initialisation, data order and noise") \
  /* ---- where it runs, where it writes ---- */                                                  \
  X(int64_t, threads, "threads", 0, kThreads, "", "CPU threads (0: all cores)")                   \
  X(std::string, device, "device", "cpu", non_empty, "",                                          \
    "cpu, or cuda (an NVIDIA GPU; `make cuda` builds train_cuda)")                                \
  X(std::string, precision, "precision", "fp32", non_empty, "",                                   \
    "--device cuda: fp32, or tf32 (matrix products and convolutions on TF32 tensor cores: "      \
    "10-bit mantissas, FP32 sums; norms, softmax, reductions and the optimizer stay FP32)")                                                                           \
  X(std::string, out, "out", "runs/fashion-mnist", non_empty, "",                                 \
    "run folder: checkpoints, loss.csv, loss.png, samples/")                                      \
  X(int64_t, checkpoint_every, "checkpoint-every", 500, positive, "", "steps between checkpoints") \
  X(int64_t, sample_every, "sample-every", 1000, non_negative, "",                                \
    "steps between preview samples (0: none)")                                                    \
  X(int64_t, log_every, "log-every", 100, positive, "", "steps between log lines when not on a terminal") \
  X(std::string, preview_sampler, "preview-sampler", "", any, "",                                 \
    "sampler for previews (default: the one `sample` uses for the model)")                        \
  X(int64_t, preview_steps, "preview-steps", 0, non_negative, "",                                 \
    "steps of the preview sampler (0: its default)")                                              \
  X(int64_t, preview_n, "preview-n", 64, kPreviewN, "", "images per preview grid")

struct TrainSettings {
  MINDIFF_TRAIN_SETTINGS(MINDIFF_SETTING_FIELD)
  std::set<std::string> given;  // the flags given on the command line (the rest are defaults)
};

// Reads argv into settings: every value checked against its rule and validate(). Returns false
// when --help was asked (the usage is then printed). Errors name the flag and the value.
bool parse_train_settings(int argc, const char* const* argv, TrainSettings& s);
// Relations between settings that no single rule states; throws naming the flags.
void validate(const TrainSettings& s);
// Every setting as --flag=value, in table order: the run's settings.txt.
std::string settings_record(const TrainSettings& s);
// The settings a run cannot change when it resumes, by resume key (table column 6); the network
// as built from --config (`model_config`, whatever --config spelled) under "model".
std::map<std::string, std::string> resume_identity(const TrainSettings& s,
                                                   const std::string& model_config);
// Trains (or resumes) the diffusion run the settings describe and returns the exit status:
// train.cpp's recipe, which the test suite links too.
int train(const TrainSettings& s);

// The training objective the settings describe for `process` (objectives.h); errors name the flag.
Objective training_objective(const TrainSettings& s, const Process& process);

}  // namespace mindiff::diffusion
