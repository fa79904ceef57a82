// Optimizers (SGD, Adam, AdamW) and gradient clipping. The update rules themselves are the
// per-element functions of tensor/ops/optim_math.h, applied to whole parameters on their device by
// tensor/ops/optim.h; this file keeps the per-parameter state and computes each step's constants.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/ops/optim.h"

namespace mindiff::nn {

namespace {

// Step counts travel as doubles in a StateDict; integers are exact below 2^53.
constexpr double kMaxExactCount = 9007199254740992.0;

// A contiguous CPU copy of `t` (state() returns snapshots, not the live buffers).
Tensor clone(const Tensor& t) {
  Tensor c = empty(t.shape());
  c.copy_(t);
  return c;
}

std::string index_name(const char* stem, size_t i) {
  return std::string(stem) + "." + std::to_string(i);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Optimizer base
// ---------------------------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<Tensor> params, float lr) : params_(std::move(params)), lr_(0.0f) {
  std::set<const TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    MD_CHECK(p.defined(), "optimizer: parameter ", i, " is an undefined tensor");
    MD_CHECK(p.device() == params_[0].device(), "optimizer: parameter ", i, " is on ",
             device_name(p.device()), ", parameter 0 on ", device_name(params_[0].device()));
    MD_CHECK(p.is_leaf(), "optimizer: parameter ", i, " ", p.shape().str(),
             " is not a leaf (it was computed by an op)");
    MD_CHECK(p.is_contiguous(), "optimizer: parameter ", i, " ", p.shape().str(),
             " is not contiguous");
    MD_CHECK(seen.insert(p.impl()).second, "optimizer: parameter ", i, " ", p.shape().str(),
             " appears twice in the list (it would be updated twice per step)");
  }
  set_lr(lr);
}

void Optimizer::set_lr(float lr) {
  MD_CHECK(std::isfinite(lr) && lr >= 0.0f,
           "optimizer: learning rate must be finite and >= 0, got ", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() const {
  for (const Tensor& p : params_) p.zero_grad();
}

Tensor Optimizer::grad_of(size_t i) const {
  Tensor g = params_[i].grad();
  if (!g.defined()) return g;
  MD_CHECK(g.shape() == params_[i].shape(), kind(), ": gradient of parameter ", i, " has shape ",
           g.shape().str(), " but the parameter ", params_[i].shape().str());
  MD_CHECK(g.device() == params_[i].device(), kind(), ": gradient of parameter ", i, " is on ",
           device_name(g.device()), ", the parameter on ", device_name(params_[i].device()));
  NoGradGuard no_grad;
  return g.contiguous();
}

std::vector<Tensor> Optimizer::device_grads_of_all() const {
  if (params_.empty() || params_[0].device() != Device::CUDA) return {};
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params_.size(); ++i) {
    grads.push_back(grad_of(i));
    if (!grads.back().defined()) return {};
  }
  return grads;
}

void Optimizer::add_common_scalars(StateDict& out) const {
  out.kind = kind();
  out.scalars.push_back({"lr", static_cast<double>(lr_)});
  out.scalars.push_back({"step_count", static_cast<double>(step_count_)});
}

void Optimizer::check_state(const StateDict& state,
                            const std::vector<std::pair<std::string, Tensor>>& slots) const {
  MD_CHECK(state.kind == kind(), kind(), ": cannot load the state of a '", state.kind,
           "' optimizer");
  MD_CHECK(state.tensors.size() == slots.size(), kind(), " state: has ", state.tensors.size(),
           " tensors, expected ", slots.size(), " for ", params_.size(), " parameters");
  for (const auto& [name, dst] : slots) {
    const Tensor& src = state.tensor(name);
    MD_CHECK(src.shape() == dst.shape(), kind(), " state: tensor '", name, "' has shape ",
             src.shape().str(), " but the parameter has shape ", dst.shape().str());
  }
  double lr = state.scalar("lr");
  MD_CHECK(std::isfinite(lr) && lr >= 0.0, kind(), " state: bad learning rate ", lr);
  read_count(state, "step_count");
}

void Optimizer::check_same(const StateDict& state, const std::string& name, double value) const {
  double saved = state.scalar(name);
  MD_CHECK(saved == value, kind(), " state: saved with ", name, " = ", saved,
           " but this optimizer has ", name, " = ", value,
           " (construct it with the saved hyperparameters)");
}

uint64_t Optimizer::read_count(const StateDict& state, const std::string& name) const {
  double v = state.scalar(name);
  MD_CHECK(v >= 0.0 && v < kMaxExactCount && v == std::floor(v), kind(), " state: scalar '", name,
           "' = ", v, " is not a step count");
  return static_cast<uint64_t>(v);
}

void Optimizer::restore(const StateDict& state,
                        const std::vector<std::pair<std::string, Tensor>>& slots) {
  NoGradGuard no_grad;
  for (const auto& [name, dst] : slots) dst.copy_(state.tensor(name));
  set_lr(static_cast<float>(state.scalar("lr")));
  step_count_ = read_count(state, "step_count");
}

// ---------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------

Sgd::Sgd(std::vector<Tensor> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  MD_CHECK(std::isfinite(options.momentum) && options.momentum >= 0.0f,
           "sgd: momentum must be >= 0, got ", options.momentum);
  MD_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0f,
           "sgd: weight_decay must be >= 0, got ", options.weight_decay);
  MD_CHECK(!options.nesterov || options.momentum > 0.0f, "sgd: nesterov needs momentum > 0");
  if (options.momentum > 0.0f)
    for (const Tensor& p : params_) momentum_.push_back(zeros(p.shape(), p.device()));
}

void Sgd::step() {
  NoGradGuard no_grad;
  ++step_count_;
  const SgdConsts c{lr_, options_.momentum, options_.weight_decay, options_.nesterov};
  const std::vector<Tensor> all = device_grads_of_all();
  if (!all.empty()) return sgd_update_all_(table_, params_, all, momentum_, c);
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = grad_of(i);
    if (g.defined()) sgd_update_(params_[i], g, momentum_.empty() ? Tensor() : momentum_[i], c);
  }
}

StateDict Sgd::state() const {
  StateDict out;
  add_common_scalars(out);
  out.scalars.push_back({"momentum", options_.momentum});
  out.scalars.push_back({"nesterov", options_.nesterov ? 1.0 : 0.0});
  out.scalars.push_back({"weight_decay", options_.weight_decay});
  for (size_t i = 0; i < momentum_.size(); ++i)
    out.tensors.push_back({index_name("momentum_buffer", i), clone(momentum_[i])});
  return out;
}

void Sgd::load_state(const StateDict& state) {
  std::vector<std::pair<std::string, Tensor>> slots;
  for (size_t i = 0; i < momentum_.size(); ++i)
    slots.emplace_back(index_name("momentum_buffer", i), momentum_[i]);
  check_state(state, slots);
  check_same(state, "momentum", options_.momentum);
  check_same(state, "nesterov", options_.nesterov ? 1.0 : 0.0);
  check_same(state, "weight_decay", options_.weight_decay);
  restore(state, slots);
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW
// ---------------------------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(params), options.lr), options_(options), decoupled_(decoupled) {
  const char* name = decoupled ? "adamw" : "adam";
  MD_CHECK(options.beta1 >= 0.0f && options.beta1 < 1.0f, name, ": beta1 must be in [0, 1), got ",
           options.beta1);
  MD_CHECK(options.beta2 >= 0.0f && options.beta2 < 1.0f, name, ": beta2 must be in [0, 1), got ",
           options.beta2);
  MD_CHECK(std::isfinite(options.eps) && options.eps >= 0.0f, name, ": eps must be >= 0, got ",
           options.eps);
  MD_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0f, name,
           ": weight_decay must be >= 0, got ", options.weight_decay);
  for (const Tensor& p : params_) {
    exp_avg_.push_back(zeros(p.shape(), p.device()));
    exp_avg_sq_.push_back(zeros(p.shape(), p.device()));
  }
  steps_.assign(params_.size(), 0);
}

AdamConsts Adam::consts(uint64_t t) const {
  // 1 - b^t in double: for b2 = 0.999 and small t the float power would lose digits.
  const double bc1 = 1.0 - std::pow(static_cast<double>(options_.beta1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(options_.beta2), static_cast<double>(t));
  return AdamConsts{lr_,
                    options_.beta1,
                    options_.beta2,
                    options_.eps,
                    options_.weight_decay,
                    static_cast<float>(bc1),
                    static_cast<float>(bc2),
                    decoupled_};
}

void Adam::step() {
  NoGradGuard no_grad;
  ++step_count_;
  // One launch for all when one step number (so one set of bias corrections) serves every one.
  const std::vector<Tensor> all = device_grads_of_all();
  if (!all.empty() && std::all_of(steps_.begin(), steps_.end(),
                                  [&](uint64_t t) { return t == steps_[0]; })) {
    const uint64_t t = steps_[0] + 1;
    std::fill(steps_.begin(), steps_.end(), t);
    return adam_update_all_(table_, params_, all, exp_avg_, exp_avg_sq_, consts(t));
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = grad_of(i);
    if (!g.defined()) continue;
    adam_update_(params_[i], g, exp_avg_[i], exp_avg_sq_[i], consts(++steps_[i]));
  }
}

StateDict Adam::state() const {
  StateDict out;
  add_common_scalars(out);
  out.scalars.push_back({"beta1", options_.beta1});
  out.scalars.push_back({"beta2", options_.beta2});
  out.scalars.push_back({"eps", options_.eps});
  out.scalars.push_back({"weight_decay", options_.weight_decay});
  for (size_t i = 0; i < params_.size(); ++i) {
    out.tensors.push_back({index_name("exp_avg", i), clone(exp_avg_[i])});
    out.tensors.push_back({index_name("exp_avg_sq", i), clone(exp_avg_sq_[i])});
    out.scalars.push_back({index_name("step", i), static_cast<double>(steps_[i])});
  }
  return out;
}

void Adam::load_state(const StateDict& state) {
  std::vector<std::pair<std::string, Tensor>> slots;
  for (size_t i = 0; i < params_.size(); ++i) {
    slots.emplace_back(index_name("exp_avg", i), exp_avg_[i]);
    slots.emplace_back(index_name("exp_avg_sq", i), exp_avg_sq_[i]);
  }
  check_state(state, slots);
  check_same(state, "beta1", options_.beta1);
  check_same(state, "beta2", options_.beta2);
  check_same(state, "eps", options_.eps);
  check_same(state, "weight_decay", options_.weight_decay);
  std::vector<uint64_t> steps(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) steps[i] = read_count(state, index_name("step", i));
  restore(state, slots);
  steps_ = steps;
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping
// ---------------------------------------------------------------------------------------------

namespace {

// (the gradient as stored, its contiguous values): the same tensor when already contiguous.
using GradPairs = std::vector<std::pair<Tensor, Tensor>>;

GradPairs gradients_of(const std::vector<Tensor>& params) {
  GradPairs grads;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].defined() ? params[i].grad() : Tensor();
    if (!g.defined()) continue;
    grads.emplace_back(g, g.contiguous());
  }
  return grads;
}

// Clips the contiguous values (tensor/ops/optim.h: the rule, on either device) and gives a
// non-contiguous gradient its scaled values back. Returns the norm, a scalar where the gradients are.
Tensor clip_values(const GradPairs& grads, float max_norm) {
  std::vector<Tensor> values;
  for (const auto& [g, gc] : grads) values.push_back(gc);
  const Tensor norm = clip_global_norm_(values, max_norm);
  for (const auto& [g, gc] : grads)
    if (!g.same_as(gc)) g.copy_(gc);
  return norm;
}

}  // namespace

Tensor clip_grad_norm_in_place(const std::vector<Tensor>& params, float max_norm) {
  NoGradGuard no_grad;
  return clip_values(gradients_of(params), max_norm);
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  return clip_grad_norm_in_place(params, max_norm).item();
}

}  // namespace mindiff::nn
