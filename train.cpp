// train: trains a diffusion model and keeps everything in a run folder (--out).
//
//   ./train                                   # the small U-Net on Fashion-MNIST
//   ./train --data gmm8 --steps 3000 --out runs/gmm8
//   ./train --data folder:~/pictures --image-size 32 --config "small base=64"
//   ./train --model classifier --out models/classifier.ckpt   # the CNN that `sample --score` uses
//
// Rerunning the same command resumes from the folder's last checkpoint. See --help for all flags.
#include <cstdio>

#include "cuda/backend.h"
#include "diffusion/classifier_run.h"
#include "diffusion/flags.h"
#include "nn/communicator.h"
#include "tensor/error.h"
#include "diffusion/toy_recipe.h"
#include "diffusion/trainer.h"

using namespace mindiff;

int main(int argc, char** argv) {
  diffusion::TrainSettings d;  // defaults
  Flags flags("train", "Trains a diffusion model; rerun the same command to resume.\n"
                       "2-D toy sets (--data gmm8, moons, ...) take their own defaults for --steps, "
                       "--batch, --lr, --min-lr and --warmup (diffusion/toy_recipe.h).");
  flags.add_string("model", "diffusion",
                   "diffusion, or classifier: the CNN that `sample --score` measures samples with "
                   "(reads --data --config --epochs --batch --lr --weight-decay --seed --threads "
                   "--out --log-every; defaults --batch 128 --lr 2e-3 --weight-decay 1e-4 --out "
                   "runs/classifier, --out FILE.ckpt or a folder; no resume)");
  flags.add_int("epochs", diffusion::ClassifierRecipe::kEpochs, "--model classifier: passes over the data");
  flags.add_string("data", d.data,
                   "fashion-mnist, mnist:DIR, cifar10:DIR, folder:DIR (or a folder), or a 2-D toy "
                   "set (gmm8, moons, swissroll, checkerboard, ...)");
  flags.add_string("config", d.config,
                   "network (default: small for images, mlp for vectors): small, cifar, tiny (U-Net) or mlp, plus key=value overrides, e.g. "
                   "\"small base=16 mult=1,2 attn=none\"");
  flags.add_string("schedule", d.process, "forward process: ddpm-linear, ddpm-cosine, vp, subvp, ve, ou, edm");
  flags.add_string("objective", d.objective, "what the network predicts: eps, x0, score, v, or edm (preconditioned)");
  flags.add_float("sigma-data", d.sigma_data, "--objective edm: the data's standard deviation");
  flags.add_float("min-snr-gamma", d.min_snr_gamma, "min-SNR-gamma loss weighting for eps, x0, v (0: off)");
  flags.add_float("p-mean", d.p_mean, "--schedule edm: mean of the log-normal training noise levels");
  flags.add_float("p-std", d.p_std, "--schedule edm: std of the log-normal training noise levels");
  flags.add_int("steps", d.steps, "optimizer steps in total");
  flags.add_int("batch", d.batch, "examples per step");
  flags.add_float("lr", d.lr, "peak learning rate (AdamW)");
  flags.add_float("min-lr", d.min_lr, "learning rate at the end of the cosine decay");
  flags.add_int("warmup", d.warmup, "linear warm-up steps");
  flags.add_float("weight-decay", d.weight_decay, "AdamW decoupled weight decay");
  flags.add_float("grad-clip", d.grad_clip, "clip gradients to this global norm (0: off)");
  flags.add_float("ema-decay", d.ema_decay, "decay of the weights' moving average (0: no EMA)");
  flags.add_bool("conditional", d.conditional, "condition on the data's class labels");
  flags.add_float("p-uncond", d.p_uncond, "label dropout for classifier-free guidance");
  flags.add_bool("hflip", d.hflip, "random horizontal flips of training images");
  flags.add_int("image-size", d.image_size, "image folders: resize and crop to this size");
  flags.add_int("channels", d.channels, "image folders: 1 (grayscale) or 3 (RGB)");
  flags.add_int("seed", static_cast<int64_t>(d.seed), "seed of initialisation, data order and noise");
  flags.add_int("threads", d.threads, "CPU threads (0: all cores)");
  flags.add_string("device", device_name(d.device),
                   "cpu, or cuda (an NVIDIA GPU; `make cuda` builds train_cuda)");
  flags.add_string("out", d.out, "run folder: checkpoints, loss.csv, loss.png, samples/");
  flags.add_int("checkpoint-every", d.checkpoint_every, "steps between checkpoints");
  flags.add_int("sample-every", d.sample_every, "steps between preview samples (0: none)");
  flags.add_int("log-every", d.log_every, "steps between log lines when not on a terminal");
  flags.add_string("preview-sampler", d.preview_sampler, "sampler for previews (default: ddim or dpm-solver++)");
  flags.add_int("preview-steps", d.preview_steps, "steps of the preview sampler (0: its default)");
  flags.add_int("preview-n", d.preview_n, "images per preview grid");

  try {
    if (!flags.parse(argc, argv)) {
      std::printf("%s", flags.usage().c_str());
      return 0;
    }
    if (flags.get_string("model") == "classifier") {
      MD_CHECK(dist::launcher_world_size() <= 1, "--model classifier trains in one process; run "
               "it without mpirun");
      return diffusion::train_classifier_command(flags);
    }
    MD_CHECK(flags.get_string("model") == "diffusion", "--model ", flags.get_string("model"),
             ": expected diffusion or classifier");
    MD_CHECK(!flags.was_set("epochs"), "--epochs applies to --model classifier; diffusion runs count --steps");
    diffusion::TrainSettings s;
    s.device = parse_device("device", flags.get_string("device"));
    if (s.device == Device::CUDA) {  // no usable GPU (or a build without CUDA): say so, exit 2
      cuda::require_available("--device cuda");
      std::printf("device: %s\n", cuda::device_description().c_str());
    }
    s.data = flags.get_string("data");
    s.config = flags.get_string("config");
    s.process = flags.get_string("schedule");
    s.objective = flags.get_string("objective");
    s.sigma_data = flags.get_float("sigma-data");
    s.min_snr_gamma = flags.get_float("min-snr-gamma");
    s.p_mean = flags.get_float("p-mean");
    s.p_std = flags.get_float("p-std");
    s.steps = flags.get_int("steps");
    s.batch = flags.get_int("batch");
    s.lr = flags.get_float("lr");
    s.min_lr = flags.get_float("min-lr");
    s.warmup = flags.get_int("warmup");
    s.weight_decay = flags.get_float("weight-decay");
    s.grad_clip = flags.get_float("grad-clip");
    s.ema_decay = flags.get_float("ema-decay");
    s.conditional = flags.get_bool("conditional");
    s.p_uncond = flags.get_float("p-uncond");
    s.hflip = flags.get_bool("hflip");
    s.image_size = flags.get_int("image-size");
    s.channels = static_cast<int>(flags.get_int("channels"));
    MD_CHECK(flags.get_int("seed") >= 0, "--seed must be >= 0");
    s.seed = static_cast<uint64_t>(flags.get_int("seed"));
    s.threads = static_cast<int>(flags.get_int("threads"));
    s.out = flags.get_string("out");
    s.checkpoint_every = flags.get_int("checkpoint-every");
    s.sample_every = flags.get_int("sample-every");
    s.log_every = flags.get_int("log-every");
    s.preview_sampler = flags.get_string("preview-sampler");
    s.preview_steps = flags.get_int("preview-steps");
    s.preview_n = flags.get_int("preview-n");
    s.settings_line = flags.summary_line();
    // 2-D toy sets: their own recipe for the settings not given (diffusion/toy_recipe.h).
    diffusion::apply_toy_recipe(s, [&](const std::string& flag) { return flags.was_set(flag); });
    return diffusion::train(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 2;
  }
}
