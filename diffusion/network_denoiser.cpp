// NetworkDenoiser: parameterisation conversion and classifier-free guidance (network_denoiser.h).
#include "diffusion/network_denoiser.h"

#include <cmath>

#include "nn/embedding.h"

namespace mindiff::diffusion {

NetworkDenoiser::NetworkDenoiser(ModelFn model, Parameterization kind,
                                 std::shared_ptr<const Process> process,
                                 std::vector<int64_t> labels, double guidance)
    : Denoiser(std::move(process)), model_(std::move(model)), kind_(kind), guidance_(0.0) {
  MD_CHECK(static_cast<bool>(model_), "NetworkDenoiser: no model given");
  check_parameterization(kind_, this->process());
  set_labels(std::move(labels));
  set_guidance(guidance);
}

void NetworkDenoiser::set_labels(std::vector<int64_t> labels) {
  labels_ = std::move(labels);
  MD_CHECK(!labels_.empty() || guidance_ == 0.0,
           "NetworkDenoiser: guidance scale ", guidance_, " needs class labels");
}

void NetworkDenoiser::set_guidance(double w) {
  MD_CHECK(std::isfinite(w), "NetworkDenoiser: guidance scale ", w, " is not finite");
  MD_CHECK(w == 0.0 || !labels_.empty(), "NetworkDenoiser: guidance scale ", w,
           " needs class labels");
  guidance_ = w;
}

Tensor NetworkDenoiser::eps_given(const Tensor& x, const Times& t,
                                  const std::vector<int64_t>& labels) const {
  const Tensor out = model_(network_input(kind_, process(), x, t),
                            network_times(kind_, process(), t, x.device()), labels);
  MD_CHECK(out.defined() && out.shape() == x.shape(), "NetworkDenoiser: the model returned ",
           out.defined() ? out.shape().str() : std::string("nothing"), " for x of shape ",
           x.shape().str());
  return output_to_eps(kind_, process(), x, t, out);
}

Tensor NetworkDenoiser::eps(const Tensor& x, const Tensor& t) const {
  MD_CHECK(x.ndim() >= 1 && t.ndim() == 1 && t.size(0) == x.size(0), "NetworkDenoiser: times ",
           t.shape().str(), " do not match the batch of x ", x.shape().str());
  return eps_guided(x, t);
}

Tensor NetworkDenoiser::eps_at(const Tensor& x, double t) const {
  MD_CHECK(x.ndim() >= 1, "NetworkDenoiser: x must be [B, ...], got ", x.shape().str());
  return eps_guided(x, Times::uniform(x.size(0), t, x.device()));
}

Tensor NetworkDenoiser::eps_guided(const Tensor& x, const Times& t) const {
  const int64_t batch = x.size(0);
  std::vector<int64_t> labels;
  if (!labels_.empty()) {
    MD_CHECK(labels_.size() == 1 || static_cast<int64_t>(labels_.size()) == batch,
             "NetworkDenoiser: ", labels_.size(), " labels for a batch of ", batch,
             " (need 1 or ", batch, ")");
    labels = labels_.size() == 1 ? std::vector<int64_t>(batch, labels_[0]) : labels_;
  }
  const Tensor cond = eps_given(x, t, labels);
  if (guidance_ == 0.0) return cond;
  // Classifier-free guidance: (1 + w) eps_c - w eps_u.
  const Tensor uncond =
      eps_given(x, t, std::vector<int64_t>(batch, nn::ClassEmbedding::kNoClass));
  return cond * static_cast<float>(1.0 + guidance_) - uncond * static_cast<float>(guidance_);
}

}  // namespace mindiff::diffusion
