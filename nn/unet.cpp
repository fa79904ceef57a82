#include "nn/unet.h"

#include "nn/config_text.h"

#include <algorithm>
#include <sstream>

namespace mindiff::nn {

namespace {
bool contains(const std::vector<int64_t>& v, int64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

UNetConfig UNetConfig::preset(const std::string& name) {
  UNetConfig c;
  if (name == "small") return c;  // the defaults above
  if (name == "cifar") {
    c.in_channels = 3;
    c.image_size = 32;
    c.base = 64;
    c.mults = {1, 2, 2, 2};
    c.attn_res = {16};
    return c;
  }
  if (name == "tiny") {  // for tests: base 8, one block per level, attention at the lowest level
    c.base = 8;
    c.mults = {1, 2};
    c.blocks = 1;
    c.image_size = 8;
    c.attn_res = {4};
    return c;
  }
  throw Error("UNetConfig: unknown preset '" + name + "' (known: small, cifar, tiny)");
}

std::string UNetConfig::to_string() const {
  std::ostringstream os;
  os << "unet in=" << in_channels << " size=" << image_size << " base=" << base
     << " mult=" << config_join(mults) << " blocks=" << blocks << " attn=" << config_join(attn_res)
     << " heads=" << heads << " dropout=" << dropout << " classes=" << num_classes
     << " groups=" << norm_groups;
  return os.str();
}

UNetConfig UNetConfig::parse(const std::string& text) {
  ConfigReader r(text, "unet", "UNetConfig");
  UNetConfig c;  // the defaults, for keys the text leaves out
  r.read("in", c.in_channels);
  r.read("size", c.image_size);
  r.read("base", c.base);
  r.read("mult", c.mults);
  r.read("blocks", c.blocks);
  r.read("attn", c.attn_res);
  r.read("heads", c.heads);
  r.read("dropout", c.dropout);
  r.read("classes", c.num_classes);
  r.read("groups", c.norm_groups);
  r.reject_unknown();
  c.validate();
  return c;
}

void UNetConfig::validate() const {
  const char* what = "UNetConfig";
  config_check_range(in_channels, 1, kMaxConfigWidth, what, "in");
  config_check_range(image_size, 1, kMaxConfigImageSize, what, "size");
  config_check_range(base, 1, kMaxConfigWidth, what, "base");
  config_check_range(norm_groups, 1, kMaxConfigWidth, what, "groups");
  MD_CHECK(base % norm_groups == 0, "UNetConfig: base ", base,
           " must be a positive multiple of the group count ", norm_groups);
  MD_CHECK(!mults.empty(), "UNetConfig: mult needs at least one level");
  config_check_range(static_cast<int64_t>(mults.size()), 1, kMaxConfigLevels, what,
                     "mult (levels)");
  // base * m channels at each level, at most kMaxConfigWidth (checked without multiplying).
  for (int64_t m : mults) config_check_range(m, 1, kMaxConfigWidth / base, what, "mult");
  config_check_range(static_cast<int64_t>(attn_res.size()), 0, kMaxConfigLevels, what,
                     "attn (resolutions)");
  config_check_range(blocks, 1, kMaxConfigBlocks, what, "blocks");
  config_check_range(heads, 1, kMaxConfigWidth, what, "heads");
  for (int64_t m : mults)
    MD_CHECK((base * m) % heads == 0, "UNetConfig: ", base * m, " channels do not split into ",
             heads, " heads");
  MD_CHECK(dropout >= 0.0f && dropout < 1.0f, "UNetConfig: dropout must be in [0, 1), got ",
           dropout);
  config_check_range(num_classes, 0, kMaxConfigClasses, what, "classes");
  // Every level but the last halves the resolution exactly.
  int64_t s = image_size;
  for (size_t i = 0; i + 1 < mults.size(); ++i) {
    MD_CHECK(s % 2 == 0, "UNetConfig: image size ", image_size, " cannot be halved ",
             mults.size() - 1, " times");
    s /= 2;
  }
  MD_CHECK(s >= 1, "UNetConfig: image size ", image_size, " too small");
}

UNet::UNet(const UNetConfig& cfg, Generator& gen) : config_(cfg) {
  cfg.validate();
  const int64_t b = cfg.base, tdim = 4 * b;
  const int groups = static_cast<int>(cfg.norm_groups);
  const int heads = static_cast<int>(cfg.heads);
  temb_fc1_ = register_module("temb_fc1", std::make_shared<Linear>(b, tdim, gen));
  temb_fc2_ = register_module("temb_fc2", std::make_shared<Linear>(tdim, tdim, gen));
  if (cfg.num_classes > 0)
    class_emb_ =
        register_module("class_emb", std::make_shared<ClassEmbedding>(cfg.num_classes, tdim, gen));
  conv_in_ = register_module("conv_in", std::make_shared<Conv2d>(cfg.in_channels, b, 3, gen, 1, 1));

  // ---- down path: record each skip's channel count ----
  down_ = register_module("down", std::make_shared<ModuleList>());
  std::vector<int64_t> skip_ch{b};
  int64_t ch = b, res = cfg.image_size;
  const size_t levels = cfg.mults.size();
  for (size_t i = 0; i < levels; ++i) {
    const int64_t cout = b * cfg.mults[i];
    for (int64_t j = 0; j < cfg.blocks; ++j) {
      auto blk = std::make_shared<Block>();
      blk->add_res(std::make_shared<ResBlock>(ch, cout, tdim, gen, cfg.dropout, groups));
      if (contains(cfg.attn_res, res)) blk->add_attn(std::make_shared<Attention>(cout, gen, heads, groups));
      down_blocks_.push_back(down_->push_back(blk));
      ch = cout;
      skip_ch.push_back(ch);
    }
    if (i + 1 != levels) {
      auto blk = std::make_shared<Block>();
      blk->add_down(std::make_shared<Downsample>(ch, gen));
      down_blocks_.push_back(down_->push_back(blk));
      skip_ch.push_back(ch);
      res /= 2;
    }
  }

  // ---- middle ----
  mid1_ = register_module("mid1", std::make_shared<ResBlock>(ch, ch, tdim, gen, cfg.dropout, groups));
  mid_attn_ = register_module("mid_attn", std::make_shared<Attention>(ch, gen, heads, groups));
  mid2_ = register_module("mid2", std::make_shared<ResBlock>(ch, ch, tdim, gen, cfg.dropout, groups));

  // ---- up path: each ResBlock consumes one skip ----
  up_ = register_module("up", std::make_shared<ModuleList>());
  for (size_t ii = levels; ii-- > 0;) {
    const int64_t cout = b * cfg.mults[ii];
    for (int64_t j = 0; j < cfg.blocks + 1; ++j) {
      auto blk = std::make_shared<Block>();
      blk->add_res(std::make_shared<ResBlock>(ch + skip_ch.back(), cout, tdim, gen, cfg.dropout, groups));
      skip_ch.pop_back();
      if (contains(cfg.attn_res, res)) blk->add_attn(std::make_shared<Attention>(cout, gen, heads, groups));
      up_blocks_.push_back(up_->push_back(blk));
      ch = cout;
    }
    if (ii != 0) {
      auto blk = std::make_shared<Block>();
      blk->add_up(std::make_shared<Upsample>(ch, gen));
      up_blocks_.push_back(up_->push_back(blk));
      res *= 2;
    }
  }
  norm_out_ = register_module("norm_out", std::make_shared<GroupNorm>(groups, ch));
  conv_out_ = register_module("conv_out", std::make_shared<Conv2d>(ch, cfg.in_channels, 3, gen, 1, 1));
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels,
                     Generator* gen) const {
  const UNetConfig& c = config_;
  MD_CHECK(x.ndim() == 4 && x.size(1) == c.in_channels && x.size(2) == c.image_size &&
               x.size(3) == c.image_size,
           "UNet: input ", x.shape().str(), " does not match the model's [B, ", c.in_channels,
           ", ", c.image_size, ", ", c.image_size, "]");
  MD_CHECK(t.ndim() == 1 && t.size(0) == x.size(0), "UNet: t ", t.shape().str(),
           " must be [B] for input ", x.shape().str());
  Tensor temb = temb_fc2_->forward(silu(temb_fc1_->forward(timestep_embedding(t, c.base))));
  if (class_emb_) {
    MD_CHECK(static_cast<int64_t>(labels.size()) == x.size(0), "UNet: ", labels.size(),
             " labels for a batch of ", x.size(0), " (a class-conditional model needs one each)");
    temb = temb + class_emb_->forward(labels);
  } else {
    MD_CHECK(labels.empty(), "UNet: labels given to an unconditional model");
  }

  Tensor h = conv_in_->forward(x);
  std::vector<Tensor> skips{h};
  for (const auto& blk : down_blocks_) {
    if (blk->down) {
      h = blk->down->forward(h);
    } else {
      h = blk->res->forward(h, temb, gen);
      if (blk->attn) h = blk->attn->forward(h);
    }
    skips.push_back(h);
  }
  h = mid2_->forward(mid_attn_->forward(mid1_->forward(h, temb, gen)), temb, gen);
  for (const auto& blk : up_blocks_) {
    if (blk->up) {
      h = blk->up->forward(h);
    } else {
      h = blk->res->forward(concat({h, skips.back()}, 1), temb, gen);
      skips.pop_back();
      if (blk->attn) h = blk->attn->forward(h);
    }
  }
  return conv_out_->forward(norm_out_->forward_silu(h));
}

}  // namespace mindiff::nn
