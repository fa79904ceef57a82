#include "nn/resblock.h"

namespace mindiff::nn {

ResBlock::ResBlock(int64_t cin, int64_t cout, int64_t temb_dim, Generator& gen, float dropout_p,
                   int norm_groups) {
  // Registration order fixes parameter order and names: norm1, conv1, temb, norm2, conv2, skip.
  norm1 = register_module("norm1", std::make_shared<GroupNorm>(norm_groups, cin));
  conv1 = register_module("conv1", std::make_shared<Conv2d>(cin, cout, 3, gen, 1, 1));
  temb = register_module("temb", std::make_shared<Linear>(temb_dim, cout, gen));
  norm2 = register_module("norm2", std::make_shared<GroupNorm>(norm_groups, cout));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(cout, cout, 3, gen, 1, 1));
  if (cin != cout) skip = register_module("skip", std::make_shared<Conv2d>(cin, cout, 1, gen));
  drop = std::make_shared<Dropout>(dropout_p);
  register_module("drop", drop);
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& t, Generator* gen) const {
  Tensor h = conv1->forward(norm1->forward_silu(x));
  Tensor tb = temb->forward(silu(t));                     // [B, out]
  h = h + tb.reshape({tb.size(0), tb.size(1), 1, 1});     // broadcast over H, W
  h = norm2->forward_silu(h);
  if (training() && drop->p > 0.0f) {
    MD_CHECK(gen != nullptr, "ResBlock: dropout in training mode needs a generator");
    h = drop->forward(h, *gen);
  }
  h = conv2->forward(h);
  return h + (skip ? skip->forward(x) : x);
}

Downsample::Downsample(int64_t c, Generator& gen) {
  conv = register_module("conv", std::make_shared<Conv2d>(c, c, 3, gen, 2, 1));
}

Upsample::Upsample(int64_t c, Generator& gen) {
  conv = register_module("conv", std::make_shared<Conv2d>(c, c, 3, gen, 1, 1));
}

}  // namespace mindiff::nn
