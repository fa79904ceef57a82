// A trained network as a Denoiser: its output (eps, x0, score, v or edm; parameterization.h) converted to the
// noise prediction every sampler uses, with optional classifier-free guidance (Ho & Salimans
// 2022): with labels c and guidance scale w,
//
//   eps(x, t) = (1 + w) eps(x, t, c) - w eps(x, t, no class)
//
// (w = 0: the plain conditional model; the unconditional prediction is the same network given
// ClassEmbedding::kNoClass, which label dropout during training taught it).
#pragma once
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/objectives.h"

namespace mindiff::diffusion {

class NetworkDenoiser : public Denoiser {
 public:
  // labels: empty (unconditional), one label for every sample, or one per sample of each batch.
  // A guidance scale other than 0 needs labels.
  NetworkDenoiser(ModelFn model, Parameterization kind, std::shared_ptr<const Process> process,
                  std::vector<int64_t> labels = {}, double guidance = 0.0);

  Tensor eps(const Tensor& x, const Tensor& t) const override;
  // At one time for the batch: the network's times and every coefficient are filled on x's
  // device from the host's value, so a sampler step sends nothing to the device or back.
  Tensor eps_at(const Tensor& x, double t) const override;

  void set_labels(std::vector<int64_t> labels);
  void set_guidance(double w);
  const std::vector<int64_t>& labels() const { return labels_; }
  double guidance() const { return guidance_; }
  const Parameterization& kind() const { return kind_; }

 private:
  // eps with guidance at times t; the network's output at (x, t, labels) converted to eps.
  Tensor eps_guided(const Tensor& x, const Times& t) const;
  Tensor eps_given(const Tensor& x, const Times& t, const std::vector<int64_t>& labels) const;

  ModelFn model_;
  Parameterization kind_;
  std::vector<int64_t> labels_;
  double guidance_;
};

}  // namespace mindiff::diffusion
