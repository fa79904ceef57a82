// Exponential moving average of the weights (Polyak averaging), the weights DDPM samples with.
//
// The EMA keeps a shadow copy s of every parameter p and, after each optimizer step,
//   s = d s + (1 - d) p      (evaluated as s += (1 - d)(p - s), see ema_update_f).
// d is the fixed `decay` by default. With `warmup` on (off by default) the decay of the t-th
// update (t = 0, 1, ... updates done before it) is min(decay, (1 + t) / (10 + t)), the schedule
// of TensorFlow's ExponentialMovingAverage(num_updates): early on the shadow follows the
// weights closely instead of remembering the random initialisation for ~1/(1-d) steps.
//
// To evaluate or sample with the EMA weights, swap them into the model (swap_in), and swap the
// live weights back afterwards (swap_out): the values are exchanged element by element, so both
// sets come back bit-exact (on the CPU without extra memory; on the CUDA device through one
// temporary per parameter). EmaScope does the pair for a scope. The shadows live on the device
// of the parameters they were made from: move the model (Module::to) before making the EMA.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/checkpoint.h"
#include "tensor/ops/multi_tensor_geometry.h"
#include "tensor/tensor.h"

namespace mindiff::nn {

struct EmaOptions {
  double decay = 0.9999;  // double: (float)0.9999 would make 1 - d 0.017% too large
  bool warmup = false;    // min(decay, (1 + t) / (10 + t)) instead of the fixed decay
};

class Ema {
 public:
  // Shadows start as copies of the parameters. The names are what state() saves the shadows
  // under, so that load_into() can load them into a model (use Module::named_parameters()).
  Ema(const std::vector<std::pair<std::string, Tensor>>& named_params, const EmaOptions& options);
  // Unnamed parameters are named "0", "1", ...
  Ema(const std::vector<Tensor>& params, const EmaOptions& options);

  // s = d s + (1 - d) p for every parameter; `params` in the order given at construction. On the
  // CUDA device all in one launch, from a device table uploaded at the first update.
  void update(const std::vector<Tensor>& params);
  // Uploads of that table so far (1 after any number of updates of unmoved parameters).
  int64_t device_table_uploads() const { return table_.uploads; }
  double next_decay() const;  // the d the next update() will use
  uint64_t num_updates() const { return num_updates_; }
  const EmaOptions& options() const { return options_; }

  // Exchange the values of the shadows and of `params`: after swap_in the parameters hold the
  // EMA weights, after swap_out the live ones again. update() is refused in between.
  void swap_in(const std::vector<Tensor>& params);
  void swap_out(const std::vector<Tensor>& params);
  bool swapped_in() const { return swapped_; }

  // The shadow tensors, by name (the live buffers; while swapped in they hold the live weights).
  const std::vector<NamedTensor>& shadow() const { return shadow_; }

  // kind "ema"; the shadows (host copies, whatever the device) by parameter name; scalars
  // "decay", "warmup", "num_updates".
  StateDict state() const;
  // Restores shadows and num_updates; the decay and warm-up setting must match (like the
  // optimizers, nn/optim.h). Checks everything before changing anything.
  void load_state(const StateDict& state);

 private:
  void check_params(const std::vector<Tensor>& params, const char* fn) const;
  void swap(const std::vector<Tensor>& params);

  EmaOptions options_;
  std::vector<NamedTensor> shadow_;
  uint64_t num_updates_ = 0;
  bool swapped_ = false;
  MultiTensorTable table_;  // the device table of the one-launch update (CUDA only)
};

// Swaps the EMA weights into `params` for the lifetime of the scope (evaluation, sampling).
class EmaScope {
 public:
  EmaScope(Ema& ema, std::vector<Tensor> params) : ema_(ema), params_(std::move(params)) {
    ema_.swap_in(params_);
  }
  ~EmaScope() { ema_.swap_out(params_); }
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  Ema& ema_;
  std::vector<Tensor> params_;
};

}  // namespace mindiff::nn
