#include "nn/layers.h"

#include <cmath>

namespace mindiff::nn {

Tensor uniform_init(const Shape& shape, float bound, Generator& gen) {
  NoGradGuard no_grad;
  Tensor u = rand(shape, gen);  // (0, 1]
  return (u * (2.0f * bound) - bound).detach();
}

Linear::Linear(int64_t in, int64_t out, Generator& gen, bool has_bias)
    : in_features(in), out_features(out) {
  MD_CHECK(in > 0 && out > 0, "Linear: features must be positive, got ", in, " -> ", out);
  float bound = 1.0f / std::sqrt(static_cast<float>(in));
  weight = register_parameter("weight", uniform_init({out, in}, bound, gen));
  if (has_bias) bias = register_parameter("bias", uniform_init({out}, bound, gen));
}

Tensor Linear::forward(const Tensor& x) const {
  MD_CHECK(x.ndim() >= 1 && x.size(-1) == in_features, "Linear: input ", x.shape().str(),
           " does not end in ", in_features, " features");
  Tensor y = matmul(x, weight.transpose(0, 1));  // [..., in] @ [in, out]
  return bias.defined() ? y + bias : y;
}

Conv2d::Conv2d(int64_t cin, int64_t cout, int k, Generator& gen, int stride_, int padding_,
               bool has_bias)
    : stride(stride_), padding(padding_) {
  MD_CHECK(cin > 0 && cout > 0 && k > 0, "Conv2d: bad geometry ", cin, " -> ", cout, ", kernel ",
           k);
  float bound = 1.0f / std::sqrt(static_cast<float>(cin * k * k));
  weight = register_parameter("weight", uniform_init({cout, cin, k, k}, bound, gen));
  if (has_bias) bias = register_parameter("bias", uniform_init({cout}, bound, gen));
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, stride, padding); }

GroupNorm::GroupNorm(int groups, int64_t channels, float eps_) : num_groups(groups), eps(eps_) {
  MD_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: ", channels,
           " channels cannot be split into ", groups, " groups");
  weight = register_parameter("weight", ones({channels}));
  bias = register_parameter("bias", zeros({channels}));
}

Tensor GroupNorm::forward(const Tensor& x) const {
  return group_norm(x, num_groups, weight, bias, eps);
}

Tensor GroupNorm::forward_silu(const Tensor& x) const {
  return group_norm_silu(x, num_groups, weight, bias, eps);
}

LayerNorm::LayerNorm(int64_t features, float eps_) : eps(eps_) {
  weight = register_parameter("weight", ones({features}));
  bias = register_parameter("bias", zeros({features}));
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return layer_norm(x, weight.shape(), weight, bias, eps);
}

Tensor Dropout::forward(const Tensor& x, Generator& gen) const {
  if (!training() || p == 0.0f) return x;
  return dropout(x, p, gen, true);
}

}  // namespace mindiff::nn
