// Training a diffusion model: what `train` runs after reading its flags.
//
// The run is a pure function of its settings and thread count: the data order comes from the
// loader's cursor, and all training noise of step k from a generator keyed by (seed, k). So a run
// killed at any moment (even by SIGKILL) and started again with the same command resumes from
// its last checkpoint and ends with bit-identical weights. Ctrl-C (SIGINT), SIGTERM or SIGUSR1
// finish the current step, save a checkpoint and exit with status 130; so does a closed
// standard output (`./train | head`, diffusion/broken_pipe.h), with a note on stderr.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/device.h"

namespace mindiff::diffusion {

struct TrainSettings {
  std::string data = "fashion-mnist";
  std::string config = "";           // DiffusionNet::config_for_data ("": small, or mlp for vectors)
  std::string process = "ddpm-linear";
  std::string objective = "eps";     // eps | x0 | score | v | edm
  double sigma_data = 0.5;           // edm: the data's standard deviation in the preconditioning
  double min_snr_gamma = 0.0;        // min-SNR-gamma loss weighting (eps, x0, v); 0: off
  double p_mean = -1.2, p_std = 1.2; // edm process: ln(sigma) ~ N(p_mean, p_std^2) in training
  int64_t steps = 10000;
  int64_t batch = 64;
  double lr = 2e-4;
  double min_lr = 2e-5;              // floor of the cosine decay
  int64_t warmup = 500;
  double weight_decay = 0.0;         // AdamW's decoupled decay
  double grad_clip = 1.0;            // global norm; 0 disables
  double ema_decay = 0.999;          // 0 disables the EMA
  bool conditional = false;          // class-conditional (labels from the data)
  double p_uncond = 0.1;             // label dropout for classifier-free guidance
  bool hflip = false;
  int64_t image_size = 32;           // image folders
  int channels = 3;                  // image folders
  uint64_t seed = 0;
  int threads = 0;                   // 0: all cores
  Device device = Device::CPU;       // where the model trains (the caller checks CUDA is usable)
  std::string out = "runs/fashion-mnist";
  int64_t checkpoint_every = 500;
  int64_t sample_every = 1000;       // 0 disables previews
  int64_t log_every = 100;
  std::string preview_sampler = "";  // "" picks ddim for DDPM processes, dpm-solver++ otherwise
  int64_t preview_steps = 0;         // 0: the sampler's preview default
  int64_t preview_n = 64;
  std::string settings_line;         // flags as text, recorded in the run folder
};

// Runs (or resumes) training; returns the process exit status. Errors in the settings or data
// throw mindiff::Error before anything is written.
int train(const TrainSettings& settings);

}  // namespace mindiff::diffusion
