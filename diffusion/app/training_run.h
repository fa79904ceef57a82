// The plumbing of a training run that train.cpp's recipe calls: its checkpoints (what they hold,
// resuming from them, the final model), the stop signals, and the key of each step's noise.
//
// A run is a pure function of its settings and thread count: the data order comes from the
// loader's cursor, and all training noise of step k from a generator keyed by (seed, k). So a run
// killed at any moment (even by SIGKILL) and started again with the same command resumes from
// its last checkpoint and ends with bit-identical weights. Ctrl-C (SIGINT), SIGTERM or SIGUSR1
// finish the current step, save a checkpoint and exit with status 130.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/loader.h"
#include "diffusion/app/data_parallel.h"
#include "diffusion/app/progress.h"
#include "diffusion/app/run_folder.h"
#include "diffusion/app/train_settings.h"
#include "nn/ema.h"
#include "nn/optim.h"

namespace mindiff::diffusion {

// The key of step k's training noise: SplitMix64 of (seed, k), so every step has its own stream
// and a resumed run draws exactly what an uninterrupted one would.
uint64_t step_key(uint64_t seed, int64_t step);

// The training data --data names (image folders resized to --image-size with --channels); with
// --conditional it must be labelled.
Dataset open_training_data(const TrainSettings& s);
// AdamW with --lr and --weight-decay.
nn::AdamOptions adam_options(const TrainSettings& s);
// "training CONFIG (P parameters) on DATA (N examples) into DIR".
void announce_new_run(const std::string& config, int64_t parameters, const Dataset& data,
                      const RunFolder& run);

// The loader of this process: its share of each global batch (data_parallel.h), shuffled by seed.
LoaderOptions loader_options(const TrainSettings& s, const DataParallel& dp);

// A NaN or infinite loss: says so (the step, where the last good checkpoint is, what to try) and
// returns the exit status 1; the checkpoint is left untouched.
int report_non_finite_loss(double loss, int64_t step, const RunFolder& run, Progress& progress);
// A stop signal after step `done` (its checkpoint saved): says how to continue, returns 130.
int report_interrupted(int64_t done, const RunFolder& run, Progress& progress);

// SIGINT, SIGTERM and SIGUSR1 ask the loop to stop after the current step; a second Ctrl-C kills
// at once. SIGUSR1 because Open MPI's mpirun passes it on to every process unchanged.
class StopSignals {
 public:
  StopSignals();                 // installs the handlers and clears any earlier request
  bool requested() const;
};

// Everything a checkpoint restores: the weights, the optimizer, the EMA and the data cursor.
struct TrainingState {
  std::vector<std::pair<std::string, Tensor>> named;  // the model's parameters by name
  nn::AdamW& optimizer;
  nn::Ema* ema;                                       // null without an EMA
  DataLoader& loader;
};

class RunCheckpoints {
 public:
  // identity: the settings a resumed run must share (train_settings.h resume_identity, with the
  // resolved network config under "model"); record: every setting as text (settings.txt);
  // class_names: the data's, recorded for `sample`.
  RunCheckpoints(RunFolder& run, DataParallel& dp, TrainingState state, std::string model_config,
                 std::map<std::string, std::string> identity, std::string record,
                 std::vector<std::string> class_names, Device device);

  // Loads the folder's checkpoint when it has one, after checking it was made by the same
  // identity (an Error names the first difference), and returns its step; a new run writes
  // settings.txt and returns 0. Every rank calls it.
  int64_t resume_or_start(int64_t total_steps);
  // The resumable state after `step`; every rank calls it (they compare weight checksums),
  // rank 0 writes it.
  void save(int64_t step);
  // model.ckpt: the EMA weights (or the live ones without an EMA), no optimizer state. Rank 0.
  void save_final_model(int64_t step);

 private:
  nn::Checkpoint make(int64_t step) const;

  RunFolder& run_;
  DataParallel& dp_;
  TrainingState state_;
  std::string model_config_;
  std::map<std::string, std::string> identity_;
  std::string record_;
  std::vector<std::string> class_names_;
  Device device_;
  double cpu_seconds_before_ = 0;  // CPU time of the processes that ran the run's earlier steps
};

}  // namespace mindiff::diffusion
