// nn layers: parameter naming and order, hand-computed outputs, configs, bad input.
#include <cmath>

#include "nn/attention.h"
#include "diffusion/app/classifier.h"
#include "nn/embedding.h"
#include "nn/mlp.h"
#include "nn/resblock.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;

TEST(Module, HierarchicalNamesInRegistrationOrder) {
  Generator gen(1);
  nn::ResBlock block(8, 16, 32, gen);
  std::vector<std::string> names;
  for (const auto& [name, t] : block.named_parameters()) names.push_back(name);
  std::vector<std::string> want{"norm1.weight", "norm1.bias", "conv1.weight", "conv1.bias",
                                "temb.weight",  "temb.bias",  "norm2.weight", "norm2.bias",
                                "conv2.weight", "conv2.bias", "skip.weight",  "skip.bias"};
  EXPECT_EQ(names, want);
  // 8+8 + 16*8*9+16 + 16*32+16 + 16+16 + 16*16*9+16 + 16*8+16 = 4128
  EXPECT_EQ(block.num_parameters(), 16 + 1168 + 528 + 32 + 2320 + 144);
  for (const Tensor& p : block.parameters()) EXPECT_TRUE(p.requires_grad());
  block.eval();
  EXPECT_FALSE(block.conv1->training());
}

TEST(Linear, ComputesXWTransposePlusBias) {
  Generator gen(2);
  nn::Linear lin(2, 3, gen);
  {
    NoGradGuard ng;
    lin.weight.copy_(from_data({1, 2, 3, 4, 5, 6}, {3, 2}));  // rows are output features
    lin.bias.copy_(from_data({0.5f, -1, 0}, {3}));
  }
  // x = [1, -1]: y_j = w_j0 - w_j1 + b_j = (1-2+0.5, 3-4-1, 5-6+0) = (-0.5, -2, -1)
  Tensor y = lin.forward(from_data({1, -1}, {1, 2}));
  test::expect_near_all(y.to_vector(), {-0.5f, -2.0f, -1.0f}, 1e-6f);
  // Batched input [2, 2, 2] keeps the leading axes.
  EXPECT_EQ(lin.forward(zeros({2, 2, 2})).shape(), Shape({2, 2, 3}));
  expect_error([&] { lin.forward(zeros({4, 3})); }, {"Linear", "[4, 3]", "2 features"});
}

TEST(Init, UniformBoundsAreFanInBased) {
  Generator gen(3);
  nn::Conv2d conv(4, 8, 3, gen);
  float bound = 1.0f / std::sqrt(36.0f);  // fan_in = C * K * K = 36
  float mx = 0;
  for (float v : conv.weight.to_vector()) mx = std::max(mx, std::fabs(v));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.9f * bound);  // 288 draws reach close to the bound
}

TEST(TimestepEmbedding, HandValues) {
  // dim 4, half 2: f = (1, 10000^-1/2 = 0.01). t = 2: (sin 2, sin 0.02, cos 2, cos 0.02).
  Tensor e = nn::timestep_embedding(from_data({2.0f}, {1}), 4);
  test::expect_near_all(e.to_vector(),
                        {std::sin(2.0f), std::sin(0.02f), std::cos(2.0f), std::cos(0.02f)}, 1e-6f);
  EXPECT_EQ(nn::timestep_embedding(zeros({3}), 5).shape(), Shape({3, 5}));  // odd: zero pad
}

TEST(ClassEmbedding, RowsAndNoClassToken) {
  Generator gen(4);
  nn::ClassEmbedding emb(3, 2, gen);
  Tensor out = emb.forward({2, nn::ClassEmbedding::kNoClass});
  std::vector<float> w = emb.weight.to_vector(), o = out.to_vector();
  EXPECT_EQ(o[0], w[4]);  // row 2
  EXPECT_EQ(o[2], w[6]);  // row 3, the no-class token
  expect_error([&] { emb.forward({3}); }, {"ClassEmbedding", "label 3"});
}

TEST(Attention, MultiHeadGradientAndShape) {
  Generator gen(5);
  nn::Attention attn(8, gen, 2);
  Tensor x = test::param({2, 8, 3, 3}, 6);
  EXPECT_EQ(attn.forward(x).shape(), x.shape());
  std::vector<Tensor> inputs{x, attn.qkv->weight, attn.proj->weight};
  GradcheckOptions opts;
  opts.max_elements_per_input = 32;
  EXPECT_TRUE(grad_ok(gradcheck("softmax", [&](auto in) { return attn.forward(in[0]); }, inputs, opts)));
}

TEST(Configs, TextRoundTripAndErrors) {
  nn::MLPConfig m;
  m.hidden = 64;
  EXPECT_EQ(nn::MLPConfig::parse(m.to_string()).to_string(), m.to_string());
  diffusion::ClassifierConfig c;
  EXPECT_EQ(diffusion::ClassifierConfig::parse(c.to_string()).to_string(), c.to_string());
  expect_error([] { nn::MLPConfig::parse("mlp dim=2 hidden=x layers=1 temb=8 classes=0"); },
               {"MLPConfig", "hidden", "'x'"});
  expect_error([] { nn::MLPConfig::parse("unet in=1"); }, {"MLPConfig", "'mlp'"});
  expect_error([] { diffusion::ClassifierConfig::parse("classifier in=1 bogus=2"); },
               {"ClassifierConfig", "unknown key 'bogus'"});
  // A key the text leaves out keeps the config's default (an older checkpoint's line).
  diffusion::ClassifierConfig three = diffusion::ClassifierConfig::parse("classifier in=3");
  EXPECT_EQ(three.in_channels, 3);
  EXPECT_EQ(three.to_string(), diffusion::ClassifierConfig::parse(three.to_string()).to_string());
  three.in_channels = c.in_channels;
  EXPECT_EQ(three.to_string(), c.to_string());
  EXPECT_EQ(nn::MLPConfig::parse("mlp").to_string(), nn::MLPConfig().to_string());
}

TEST(ScoreMLP, GradientThroughTheWholeNetwork) {
  Generator gen(7);
  nn::MLPConfig cfg;
  cfg.hidden = 16;
  cfg.layers = 2;
  cfg.temb = 8;
  nn::ScoreMLP mlp(cfg, gen);
  Tensor x = test::param({3, 2}, 8);
  Tensor t = from_data({0.1f, 5.0f, 40.0f}, {3});
  auto params = mlp.parameters();
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), params.begin(), params.end());
  GradcheckOptions opts;
  opts.max_elements_per_input = 24;
  EXPECT_TRUE(grad_ok(gradcheck("matmul", [&](auto in) { return mlp.forward(in[0], t); }, inputs, opts)));
}

TEST(Classifier, ShapesAndGradient) {
  Generator gen(9);
  diffusion::ClassifierConfig cfg;
  cfg.width = 8;
  cfg.features = 16;
  cfg.image_size = 8;
  diffusion::Classifier net(cfg, gen);
  net.eval();
  Tensor x = test::param({2, 1, 8, 8}, 10);
  EXPECT_EQ(net.features(x).shape(), Shape({2, 16}));
  EXPECT_EQ(net.forward(x).shape(), Shape({2, 10}));
  auto params = net.parameters();
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), params.begin(), params.end());
  GradcheckOptions opts;
  opts.max_elements_per_input = 8;
  EXPECT_TRUE(grad_ok(gradcheck("avg_pool2d", [&](auto in) { return net.forward(in[0]); }, inputs, opts)));
  expect_error([&] { net.forward(zeros({1, 1, 28, 28})); }, {"Classifier", "[1, 1, 28, 28]"});
}

}  // namespace
}  // namespace mindiff
