// Embeddings of the diffusion time and of class labels.
#pragma once
#include <vector>

#include "nn/module.h"
#include "tensor/ops.h"

namespace mindiff::nn {

// Sinusoidal embedding of float times t [B] -> [B, dim]:
//   emb[b] = cat(sin(t_b f_0 .. t_b f_{h-1}), cos(t_b f_0 .. t_b f_{h-1})),  h = dim / 2,
//   f_i = exp(-ln(10000) i / h)
// (Vaswani et al. 2017, as used by DDPM), zero-padded by one column when dim is odd.
// Not differentiable in t (nothing upstream of t is learned). Computed on t's device
// (tensor/ops/embedding.h), so a network's times never go to the host.
Tensor timestep_embedding(const Tensor& t, int64_t dim);

// A learned table of num_classes + 1 rows of `dim` features; row num_classes is the "no class"
// token used for classifier-free guidance. Labels are class indices in [0, num_classes), or
// kNoClass. Lookup is one_hot(labels) @ table, so it is differentiable with no op of its own.
class ClassEmbedding : public Module {
 public:
  static constexpr int64_t kNoClass = -1;
  ClassEmbedding(int64_t num_classes, int64_t dim, Generator& gen);
  Tensor forward(const std::vector<int64_t>& labels) const;  // -> [B, dim]
  Tensor weight;  // [num_classes + 1, dim]
  int64_t num_classes;

 private:
  // With the table on the device, the one-hot matrices of the last few label lists, kept there: a
  // sampler gives the same labels (and the no-class ones of guidance) at every step, so they are
  // sent once per run, not once per evaluation. Training's labels change every step and are sent
  // with each batch.
  struct CachedRows {
    std::vector<int64_t> rows;
    Tensor one_hot;  // [B, num_classes + 1] on the device
  };
  static constexpr size_t kCachedLists = 4;  // conditional and no-class labels, and spares
  Tensor device_one_hot(const std::vector<int64_t>& rows) const;
  mutable std::vector<CachedRows> cache_;
};

// one_hot(labels, k) [B, k] with 1 at each label; `what` names the caller for errors.
Tensor one_hot(const std::vector<int64_t>& labels, int64_t k, const char* what);

}  // namespace mindiff::nn
