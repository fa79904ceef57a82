// Optimizers over a list of parameter tensors, and gradient clipping by global norm.
//
// An optimizer keeps the parameters it was given (the same tensors, in the same order) and one
// state slot per parameter (momentum buffer, Adam moments, step count). step() updates every
// parameter whose .grad is defined from that gradient, in place and under no-grad; a parameter
// with no gradient is skipped and its state does not advance (as in PyTorch). The per-element
// rules are in tensor/ops/optim_math.h, shared with the CUDA backend: parameters on the CUDA
// device (all on one device; their state is made there) are updated by cuda/optim.cu, all of them
// in one launch when every parameter has a gradient (and, for Adam, all have taken the same
// number of steps), else one launch per parameter: the same numbers either way. The one launch
// reads the parameters' and state's addresses from a device table the optimizer keeps, uploaded
// at its first step, so later steps copy nothing to the device for it.
//
// State export/import (for checkpoints, nn/checkpoint.h) is a StateDict: kind "sgd", "adam" or
// "adamw"; tensors "momentum_buffer.<i>" or "exp_avg.<i>" / "exp_avg_sq.<i>" with i the
// parameter's index; scalars "step_count", "step.<i>" (Adam: per-parameter steps, used in the
// bias corrections) and the hyperparameters ("lr", "beta1", ...). state() returns a snapshot
// (host copies, whatever the device). load_state() restores the buffers, the step counts and the lr; the other
// hyperparameters (momentum, betas, eps, weight decay) come from the constructor and must equal
// the saved ones, otherwise it throws: resuming with a silently different optimizer is a bug.
// load_state() checks everything before it changes anything.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/checkpoint.h"
#include "tensor/ops/multi_tensor_geometry.h"
#include "tensor/ops/optim_math.h"
#include "tensor/tensor.h"

namespace mindiff::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Clears the .grad of every parameter (so the next backward() starts from nothing).
  void zero_grad() const;

  void set_lr(float lr);  // e.g. from a schedule (nn/schedule.h) before each step()
  float lr() const { return lr_; }
  uint64_t step_count() const { return step_count_; }  // calls of step() so far
  const std::vector<Tensor>& params() const { return params_; }
  // Uploads of the device table of the one-launch update so far (1 after any number of steps
  // with unmoved parameters; 0 on the CPU).
  int64_t device_table_uploads() const { return table_.uploads; }

  virtual const char* kind() const = 0;  // "sgd", "adam", "adamw"
  virtual StateDict state() const = 0;
  // Restores a state exported by an optimizer of the same kind and hyperparameters over
  // parameters of the same shapes; throws an Error naming the kind and the offending entry
  // otherwise.
  virtual void load_state(const StateDict& state) = 0;

 protected:
  // Checks that the parameters are defined, distinct, contiguous CPU leaves and the lr >= 0.
  Optimizer(std::vector<Tensor> params, float lr);
  // The gradient of parameter i as a contiguous tensor, or an undefined Tensor when it has none.
  Tensor grad_of(size_t i) const;
  // On the CUDA device, every parameter's gradient when each has one; else empty (the caller
  // takes the per-parameter path).
  std::vector<Tensor> device_grads_of_all() const;

  // ---- helpers for state() / load_state() ----
  // The scalars every optimizer saves: "lr", "step_count".
  void add_common_scalars(StateDict& out) const;
  // Checks the kind, that `state` holds exactly the tensors named in `slots` with the slots'
  // shapes, and the common scalars. Changes nothing.
  void check_state(const StateDict& state,
                   const std::vector<std::pair<std::string, Tensor>>& slots) const;
  // Throws unless state.scalar(name) == value (a hyperparameter that must match).
  void check_same(const StateDict& state, const std::string& name, double value) const;
  // state.scalar(name) as a step count: a non-negative integer below 2^53.
  uint64_t read_count(const StateDict& state, const std::string& name) const;
  // After check_state: copies the tensors into the slots and restores lr and step_count.
  void restore(const StateDict& state, const std::vector<std::pair<std::string, Tensor>>& slots);

  std::vector<Tensor> params_;
  float lr_;
  uint64_t step_count_ = 0;
  MultiTensorTable table_;  // the device table of the one-launch update (CUDA only)
};

// ---- SGD (with optional momentum, Nesterov momentum and L2 weight decay) ----
struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;  // needs momentum > 0
  float weight_decay = 0.0f;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, const SgdOptions& options);
  void step() override;
  const char* kind() const override { return "sgd"; }
  StateDict state() const override;
  void load_state(const StateDict& state) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // one zero-initialised buffer per parameter (if momentum > 0)
};

// ---- Adam (L2 weight decay coupled to the gradient) and AdamW (decoupled weight decay) ----
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  void step() override;
  const char* kind() const override { return decoupled_ ? "adamw" : "adam"; }
  StateDict state() const override;
  void load_state(const StateDict& state) override;
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_;
  AdamConsts consts(uint64_t t) const;  // the constants of a parameter's t-th step

  std::vector<Tensor> exp_avg_, exp_avg_sq_;  // m and v, zero-initialised, per parameter
  std::vector<uint64_t> steps_;               // t per parameter (skipped steps do not count)
};

// AdamW: p <- p (1 - lr wd) before each Adam step (Loshchilov & Hutter). PyTorch's default
// weight decay for AdamW is 0.01; ours is whatever the options say (the struct's default is 0).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamOptions& options)
      : Adam(std::move(params), options, true) {}
};

// Gradient clipping by global norm: norm = sqrt(sum over all parameters of sum g^2), computed in
// double with a fixed summation order (the same for every thread count). When norm > max_norm,
// every gradient is multiplied by max_norm / (norm + 1e-6) (PyTorch's clip_grad_norm_). Parameters
// without a gradient are ignored. Returns the norm before clipping; when it is not finite the
// gradients are left untouched, so the caller can see it and skip the step.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);
// The same clipping (tensor/ops/optim.h's clip_global_norm_), the norm returned as a scalar
// tensor where the gradients are: on the device nothing is read back to the host, so a training
// step need not wait for the device here.
Tensor clip_grad_norm_in_place(const std::vector<Tensor>& params, float max_norm);

}  // namespace mindiff::nn
