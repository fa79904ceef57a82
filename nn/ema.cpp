// Weight EMA: the shadow update (tensor/ops/optim.h: ema_update_ per parameter on the CPU, one
// ema_update_all_ launch on the CUDA device) and the swap (an OpenMP loop over each parameter's
// elements on the CPU: each element independent, so results do not depend on the thread count).
#include "nn/ema.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/ops/optim.h"

namespace mindiff::nn {

namespace {

constexpr int64_t kParallelMin = 1 << 15;              // fewer elements: one thread (swap)
constexpr double kMaxExactCount = 9007199254740992.0;  // 2^53: counts are exact as doubles below

std::vector<std::pair<std::string, Tensor>> number_names(const std::vector<Tensor>& params) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < params.size(); ++i) out.emplace_back(std::to_string(i), params[i]);
  return out;
}

// A contiguous copy of `t` on `device` (t's own by default).
Tensor clone(const Tensor& t, Device device) {
  NoGradGuard no_grad;
  Tensor c = empty(t.shape(), device);
  c.copy_(t);
  return c;
}
Tensor clone(const Tensor& t) { return clone(t, t.device()); }

}  // namespace

Ema::Ema(const std::vector<std::pair<std::string, Tensor>>& named_params, const EmaOptions& options)
    : options_(options) {
  MD_CHECK(options.decay >= 0.0 && options.decay <= 1.0, "ema: decay must be in [0, 1], got ",
           options.decay);
  for (const auto& [name, p] : named_params) {
    MD_CHECK(p.defined(), "ema: parameter '", name, "' is an undefined tensor");
    for (const NamedTensor& s : shadow_)
      MD_CHECK(s.name != name, "ema: name '", name, "' used twice");
    shadow_.push_back({name, clone(p)});
  }
}

Ema::Ema(const std::vector<Tensor>& params, const EmaOptions& options)
    : Ema(number_names(params), options) {}

void Ema::check_params(const std::vector<Tensor>& params, const char* fn) const {
  MD_CHECK(params.size() == shadow_.size(), "ema ", fn, ": got ", params.size(),
           " parameters, the EMA was made for ", shadow_.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    MD_CHECK(p.defined() && p.shape() == shadow_[i].tensor.shape(), "ema ", fn, ": parameter ", i,
             " ('", shadow_[i].name, "') has shape ", p.defined() ? p.shape().str() : "undefined",
             ", its shadow ", shadow_[i].tensor.shape().str());
    MD_CHECK(p.device() == shadow_[i].tensor.device() && p.is_contiguous(), "ema ", fn,
             ": parameter '", shadow_[i].name, "' must be contiguous and on ",
             device_name(shadow_[i].tensor.device()), " (where its shadow is)");
  }
}

double Ema::next_decay() const {
  if (!options_.warmup) return options_.decay;
  const double t = static_cast<double>(num_updates_);
  return std::min(options_.decay, (1.0 + t) / (10.0 + t));
}

void Ema::update(const std::vector<Tensor>& params) {
  MD_CHECK(!swapped_, "ema update: the EMA weights are swapped into the model; swap_out first");
  check_params(params, "update");
  const float one_minus_d = static_cast<float>(1.0 - next_decay());
  if (!params.empty() && params[0].device() == Device::CUDA) {
    std::vector<Tensor> shadows;
    for (const NamedTensor& s : shadow_) shadows.push_back(s.tensor);
    ema_update_all_(table_, shadows, params, one_minus_d);
  } else {
    for (size_t i = 0; i < params.size(); ++i)
      ema_update_(shadow_[i].tensor, params[i], one_minus_d);
  }
  ++num_updates_;
}

void Ema::swap(const std::vector<Tensor>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].device() == Device::CUDA) {  // three copies on the device (one temporary)
      const Tensor tmp = clone(params[i]);
      params[i].copy_(shadow_[i].tensor);
      shadow_[i].tensor.copy_(tmp);
      continue;
    }
    float* s = shadow_[i].tensor.data();
    float* p = params[i].data();
    const int64_t n = params[i].numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t k = 0; k < n; ++k) std::swap(s[k], p[k]);
  }
}

void Ema::swap_in(const std::vector<Tensor>& params) {
  MD_CHECK(!swapped_, "ema swap_in: the EMA weights are already swapped in");
  check_params(params, "swap_in");
  swap(params);
  swapped_ = true;
}

void Ema::swap_out(const std::vector<Tensor>& params) {
  MD_CHECK(swapped_, "ema swap_out: the EMA weights are not swapped in");
  check_params(params, "swap_out");
  swap(params);
  swapped_ = false;
}

StateDict Ema::state() const {
  MD_CHECK(!swapped_, "ema state: the EMA weights are swapped into the model; swap_out first");
  StateDict out;
  out.kind = "ema";
  // Host copies, as the optimizers' states: a checkpoint is the same whatever the device.
  for (const NamedTensor& s : shadow_) out.tensors.push_back({s.name, clone(s.tensor, Device::CPU)});
  out.scalars = {{"decay", options_.decay},
                 {"warmup", options_.warmup ? 1.0 : 0.0},
                 {"num_updates", static_cast<double>(num_updates_)}};
  return out;
}

void Ema::load_state(const StateDict& state) {
  MD_CHECK(!swapped_, "ema load_state: the EMA weights are swapped into the model; swap_out first");
  MD_CHECK(state.kind == "ema", "ema load_state: the state is of kind '", state.kind,
           "', not 'ema'");
  MD_CHECK(state.tensors.size() == shadow_.size(), "ema load_state: the state has ",
           state.tensors.size(), " tensors, the EMA ", shadow_.size());
  for (const NamedTensor& s : shadow_) {
    const Tensor& src = state.tensor(s.name);
    MD_CHECK(src.shape() == s.tensor.shape(), "ema load_state: tensor '", s.name, "' has shape ",
             src.shape().str(), " in the state but ", s.tensor.shape().str(), " here");
  }
  MD_CHECK(state.scalar("decay") == options_.decay, "ema load_state: saved with decay ",
           state.scalar("decay"), " but this EMA has ", options_.decay);
  MD_CHECK(state.scalar("warmup") == (options_.warmup ? 1.0 : 0.0),
           "ema load_state: saved with warmup ", state.scalar("warmup"), " but this EMA has ",
           options_.warmup ? 1 : 0);
  const double n = state.scalar("num_updates");
  MD_CHECK(n >= 0.0 && n < kMaxExactCount && n == std::floor(n),
           "ema load_state: num_updates = ", n, " is not a count");
  NoGradGuard no_grad;
  for (const NamedTensor& s : shadow_) s.tensor.copy_(state.tensor(s.name));
  num_updates_ = static_cast<uint64_t>(n);
}

}  // namespace mindiff::nn
