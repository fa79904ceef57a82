// The U-Net: exact parameter counts of the reference presets, a finite-difference gradient check
// through a whole tiny U-Net, conditioning, config round trip and input validation.
#include "nn/unet.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;

// The presets' counts in docs/unet.md, computed with the PyTorch twin of the same network.
TEST(UNet, ReferenceParameterCounts) {
  Generator gen(1);
  EXPECT_EQ(nn::UNet(nn::UNetConfig::preset("small"), gen).num_parameters(), 1623169);
  EXPECT_EQ(nn::UNet(nn::UNetConfig::preset("cifar"), gen).num_parameters(), 8952067);
}

TEST(UNet, NamesFollowTheReferenceLayout) {
  Generator gen(2);
  nn::UNet net(nn::UNetConfig::preset("small"), gen);
  auto named = net.named_parameters();
  EXPECT_EQ(named.front().first, "temb_fc1.weight");
  EXPECT_EQ(named.back().first, "conv_out.bias");
  bool found_attn = false, found_down = false, found_up = false;
  for (const auto& [name, t] : named) {
    found_attn |= name == "down.6.attn.qkv.weight";  // level 2 (7x7): entries 6 and 7
    found_down |= name == "down.2.down.conv.weight";
    found_up |= name == "up.3.up.conv.weight";
  }
  EXPECT_TRUE(found_attn);
  EXPECT_TRUE(found_down);
  EXPECT_TRUE(found_up);
}

TEST(UNet, GradientCheckThroughATinyUNet) {
  // base 8, one block per level, attention at 4x4, on a 2-image batch of 8x8: every op of the
  // network (conv2d, group_norm, group_norm_silu, silu, matmul, softmax, concat, upsample, linear)
  // is on the path.
  Generator gen(3);
  nn::UNetConfig cfg = nn::UNetConfig::preset("tiny");
  nn::UNet net(cfg, gen);
  Tensor x = test::param({2, 1, 8, 8}, 4);
  Tensor t = from_data({3.0f, 700.0f}, {2});
  // A sample of parameters from the start, the middle (attention) and the end of the network.
  std::vector<Tensor> inputs{x};
  for (const auto& [name, p] : net.named_parameters())
    if (name == "temb_fc1.weight" || name == "conv_in.weight" || name == "down.0.res.conv1.weight" ||
        name == "mid_attn.qkv.weight" || name == "mid_attn.norm.weight" ||
        name == "up.0.res.skip.weight" || name == "up.3.res.temb.bias" || name == "conv_out.weight")
      inputs.push_back(p);
  ASSERT_EQ(inputs.size(), 9u);
  GradcheckOptions opts;
  opts.max_elements_per_input = 12;
  EXPECT_TRUE(grad_ok(gradcheck("conv2d", [&](auto in) { return net.forward(in[0], t); }, inputs, opts)));
}

TEST(UNet, ClassConditioningChangesTheOutput) {
  Generator gen(5);
  nn::UNetConfig cfg = nn::UNetConfig::preset("tiny");
  cfg.num_classes = 3;
  nn::UNet net(cfg, gen);
  NoGradGuard ng;
  Tensor x = randn({1, 1, 8, 8}, 6), t = from_data({10.0f}, {1});
  std::vector<float> a = net.forward(x, t, {0}).to_vector();
  std::vector<float> b = net.forward(x, t, {nn::ClassEmbedding::kNoClass}).to_vector();
  EXPECT_NE(a, b);
  expect_error([&] { net.forward(x, t); }, {"UNet", "0 labels", "batch of 1"});
}

TEST(UNetConfig, RoundTripAndValidation) {
  nn::UNetConfig c = nn::UNetConfig::preset("cifar");
  EXPECT_EQ(nn::UNetConfig::parse(c.to_string()).to_string(), c.to_string());
  EXPECT_EQ(c.to_string(),
            "unet in=3 size=32 base=64 mult=1,2,2,2 blocks=2 attn=16 heads=1 dropout=0 classes=0 "
            "groups=8");
  expect_error([] { nn::UNetConfig::preset("huge"); }, {"unknown preset", "huge"});
  expect_error([] { nn::UNetConfig::parse("unet in=1 size=28 base=12 mult=1 blocks=1 attn=none heads=1 dropout=0 classes=0 groups=8"); },
               {"base 12", "group count 8"});
  expect_error([] { nn::UNetConfig::parse("unet in=1 size=30 base=8 mult=1,2,2,2 blocks=1 attn=none heads=1 dropout=0 classes=0 groups=8"); },
               {"image size 30"});
}

// Every key is optional (the default applies: a checkpoint written before a key existed still
// loads) and an unknown one is refused by name (a typo, or a checkpoint of a newer build).
TEST(UNetConfig, MissingKeysTakeTheDefaultsUnknownKeysFail) {
  const nn::UNetConfig defaults;
  EXPECT_EQ(nn::UNetConfig::parse("unet").to_string(), defaults.to_string());
  nn::UNetConfig c = nn::UNetConfig::parse("unet base=16 attn=none");
  EXPECT_EQ(c.base, 16);
  EXPECT_TRUE(c.attn_res.empty());
  c.base = defaults.base;
  c.attn_res = defaults.attn_res;
  EXPECT_EQ(c.to_string(), defaults.to_string());
  expect_error([] { nn::UNetConfig::parse("unet base=16 width=3"); },
               {"UNetConfig", "unknown key 'width'", "known: in, size, base"});
  expect_error([] { nn::UNetConfig::parse("unet mult=1,x"); }, {"UNetConfig", "'mult'", "1,x"});
}

TEST(UNet, RejectsMismatchedInput) {
  Generator gen(7);
  nn::UNet net(nn::UNetConfig::preset("tiny"), gen);
  expect_error([&] { net.forward(zeros({1, 3, 8, 8}), zeros({1})); }, {"UNet", "[1, 3, 8, 8]"});
  expect_error([&] { net.forward(zeros({2, 1, 8, 8}), zeros({3})); }, {"UNet", "t [3]"});
}

}  // namespace
}  // namespace mindiff
