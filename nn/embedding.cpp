#include "nn/embedding.h"

#include <cmath>

#include "nn/layers.h"

namespace mindiff::nn {

Tensor timestep_embedding(const Tensor& t, int64_t dim) {
  return sinusoidal_embedding(t, dim);  // computed where t lives (tensor/ops/embedding.h)
}

Tensor one_hot(const std::vector<int64_t>& labels, int64_t k, const char* what) {
  Tensor oh = zeros({static_cast<int64_t>(labels.size()), k});
  for (size_t b = 0; b < labels.size(); ++b) {
    MD_CHECK(labels[b] >= 0 && labels[b] < k, what, ": label ", labels[b], " at position ", b,
             " is outside [0, ", k, ")");
    oh.data()[static_cast<int64_t>(b) * k + labels[b]] = 1.0f;
  }
  return oh;
}

ClassEmbedding::ClassEmbedding(int64_t classes, int64_t dim, Generator& gen) : num_classes(classes) {
  MD_CHECK(classes > 0, "ClassEmbedding: needs at least one class, got ", classes);
  // N(0, 1) rows, as torch.nn.Embedding initialises them.
  Tensor w = randn({classes + 1, dim}, gen);
  weight = register_parameter("weight", w);
}

Tensor ClassEmbedding::forward(const std::vector<int64_t>& labels) const {
  std::vector<int64_t> rows(labels.size());
  for (size_t b = 0; b < labels.size(); ++b) {
    MD_CHECK(labels[b] == kNoClass || (labels[b] >= 0 && labels[b] < num_classes),
             "ClassEmbedding: label ", labels[b], " is neither a class in [0, ", num_classes,
             ") nor the no-class token ", kNoClass);
    rows[b] = labels[b] == kNoClass ? num_classes : labels[b];
  }
  if (weight.device() == Device::CPU)
    return matmul(one_hot(rows, num_classes + 1, "ClassEmbedding"), weight);
  return matmul(device_one_hot(rows), weight);
}

Tensor ClassEmbedding::device_one_hot(const std::vector<int64_t>& rows) const {
  for (size_t i = 0; i < cache_.size(); ++i) {
    if (cache_[i].rows != rows || cache_[i].one_hot.device() != weight.device()) continue;
    CachedRows hit = std::move(cache_[i]);  // most recently used first
    cache_.erase(cache_.begin() + static_cast<std::ptrdiff_t>(i));
    cache_.insert(cache_.begin(), std::move(hit));
    return cache_.front().one_hot;
  }
  const Tensor oh = one_hot(rows, num_classes + 1, "ClassEmbedding").to(weight.device());
  cache_.insert(cache_.begin(), CachedRows{rows, oh});
  if (cache_.size() > kCachedLists) cache_.pop_back();
  return oh;
}

}  // namespace mindiff::nn
