// CUDA parity of the layer ops, forward and backward: group_norm, group_norm_silu and layer_norm,
// conv2d (every stride/padding case of the U-Net, sizes that are not tile multiples),
// upsample_nearest2d, avg_pool2d, concat, the two losses, dropout (the same mask on both devices).
#include <cmath>

#include "cuda/conv2d.h"
#include "tensor/precision.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_parity;

// Sums in different orders (the CPU's in float lanes added in double, the device's in double):
// float rounding of the results.
const test::ParityTolerance kSumTol{2e-5f, 2e-5f};
// Products summed by sgemm on the CPU and by the matmul kernel here, in other groupings.
const test::ParityTolerance kGemmTol{1e-4f, 1e-4f};

TEST(CudaNorm, GroupNormAndLayerNorm) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({3, 6, 5, 7}, 1), w = test::param({6}, 2), b = test::param({6}, 3);
  for (int groups : {1, 2, 3, 6})
    expect_parity([&](auto in) { return group_norm(in[0], groups, in[1], in[2]); }, {x, w, b},
                  kSumTol);
  expect_parity([](auto in) { return group_norm(in[0], 2, Tensor(), Tensor()); }, {x}, kSumTol);
  Tensor xl = test::param({2, 40}, 4);  // [B, C] (S = 1): a group of 3 channels of one element
  Tensor wl = test::param({40}, 5), bl = test::param({40}, 6);
  expect_parity([](auto in) { return group_norm(in[0], 8, in[1], in[2]); }, {xl, wl, bl}, kSumTol);
  Tensor xt = test::param({4, 9, 33}, 7), g = test::param({33}, 8), h = test::param({33}, 9);
  expect_parity([](auto in) { return layer_norm(in[0], {33}, in[1], in[2]); }, {xt, g, h}, kSumTol);
  // A non-contiguous input (the kernels take a dense copy).
  Tensor xp = test::param_transposed({3, 6, 7, 5}, 10);
  expect_parity([&](auto in) { return group_norm(in[0], 3, in[1], in[2]); }, {xp, w, b}, kSumTol);
}

// group_norm_silu's fused kernels (cuda/norm.cu) against the CPU's fused op, forward and every
// gradient. Beyond kSumTol's summation orders, the two compute silu and silu' with different exp
// (the CPU's vectorised polynomial, the device's expf), a few float ulps apart: within it.
TEST(CudaNorm, GroupNormSiluFusedMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto gns = [](int groups) {
    return [groups](auto in) { return group_norm_silu(in[0], groups, in[1], in[2]); };
  };
  Tensor x = test::param({3, 6, 5, 7}, 1), w = test::param({6}, 2), b = test::param({6}, 3);
  for (int groups : {1, 2, 3, 6}) {  // Cg = 6, 3, 2, 1 channels of S = 35
    SCOPED_TRACE(::testing::Message() << "groups " << groups);
    expect_parity(gns(groups), {x, w, b}, kSumTol);
  }
  // No affine parameters, or a weight without a bias.
  expect_parity(gns(2), {x, Tensor(), Tensor()}, kSumTol);
  expect_parity(gns(3), {x, w, Tensor()}, kSumTol);
  // A channel longer than a block (S = 323 > 256 threads) and a group of 646 elements.
  Tensor xs = test::param({2, 4, 17, 19}, 4), ws = test::param({4}, 5), bs = test::param({4}, 6);
  expect_parity(gns(2), {xs, ws, bs}, kSumTol);
  // [B, C] (S = 1): groups of 5 one-element channels; and one sample of one channel.
  Tensor xl = test::param({2, 40}, 7), wl = test::param({40}, 8), bl = test::param({40}, 9);
  expect_parity(gns(8), {xl, wl, bl}, kSumTol);
  Tensor x1 = test::param({1, 1, 3, 3}, 10), w1 = test::param({1}, 11), b1 = test::param({1}, 12);
  expect_parity(gns(1), {x1, w1, b1}, kSumTol);
  // A non-contiguous input (the kernels take a dense copy).
  Tensor xp = test::param_transposed({3, 6, 7, 5}, 13);
  expect_parity(gns(3), {xp, w, b}, kSumTol);
  // Only some gradients wanted: x alone (weight and bias constants), the affine ones alone.
  Tensor wc = randn({6}, 14), bc = randn({6}, 15), xc = randn({3, 6, 5, 7}, 16);
  expect_parity(gns(3), {x, wc, bc}, kSumTol);
  expect_parity(gns(3), {xc, w, b}, kSumTol);
}

// The device runs the fused op (its graph node is group_norm_silu, not a silu after a group_norm),
// and its forward is the composition's bit for bit under the emulator: both kernels compute the
// statistics with one helper and silu with one function, compiled without fused multiply-adds
// (on a GPU nvcc may contract the two kernels differently: float rounding). Backward sums in
// another order (per channel, then over the group) than group_norm's dx kernel: kSumTol. And the
// gradients are deterministic: a second backward gives the same bits.
TEST(CudaNorm, GroupNormSiluFusedIsTheComposition) {
  SKIP_WITHOUT_CUDA();
  Tensor x = randn({4, 8, 9, 11}, 21).to(Device::CUDA), w = randn({8}, 22).to(Device::CUDA),
         b = randn({8}, 23).to(Device::CUDA), dout = randn({4, 8, 9, 11}, 24).to(Device::CUDA);
  for (Tensor* t : {&x, &w, &b}) t->requires_grad_();
  auto grads = [&](bool fused) {
    for (Tensor* t : {&x, &w, &b}) t->zero_grad();
    Tensor y = fused ? group_norm_silu(x, 4, w, b) : silu(group_norm(x, 4, w, b));
    if (fused) {
      EXPECT_STREQ(y.grad_fn()->op->name, "group_norm_silu");
    }
    y.backward(dout);
    return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  const std::vector<Tensor> fused = grads(true), composed = grads(false), again = grads(true);
  const float tol = cuda::emulated() ? 0.0f : kSumTol.atol;
  EXPECT_TRUE(test::all_close(fused[0], composed[0], tol, tol)) << "forward";
  for (size_t i = 1; i < fused.size(); ++i) {
    EXPECT_TRUE(test::all_close(fused[i], composed[i], kSumTol.atol, kSumTol.rtol)) << "grad " << i;
    EXPECT_EQ(fused[i].to_vector(), again[i].to_vector()) << "grad " << i << " not deterministic";
  }
}

// conv2d's launchers, both algorithms, against the CPU's direct-loop references (summed in double).
void check_conv(int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s,
                int64_t p, bool with_bias) {
  SCOPED_TRACE(::testing::Message() << "x [" << B << ", " << C << ", " << H << ", " << W << "] O "
                                    << O << " k " << k << " stride " << s << " pad " << p);
  Tensor x = randn({B, C, H, W}, 11), w = randn({O, C, k, k}, 12);
  Tensor b = with_bias ? randn({O}, 13) : Tensor();
  const int64_t HO = (H + 2 * p - k) / s + 1, WO = (W + 2 * p - k) / s + 1;
  const Conv2dGeometry g{B, C, H, W, O, k, k, HO, WO, s, p};
  Tensor dout = randn({B, O, HO, WO}, 14);
  const Tensor want_out = conv2d_reference(x, w, b, s, p);
  const Conv2dGrads want = conv2d_backward_reference(x, w, dout, s, p);
  for (Conv2dAlgorithm algorithm : {Conv2dAlgorithm::ImplicitGemm, Conv2dAlgorithm::Im2col}) {
    SCOPED_TRACE(algorithm == Conv2dAlgorithm::ImplicitGemm ? "implicit GEMM" : "im2col");
    Tensor out = conv2d_forward_cuda(x.to(Device::CUDA), w.to(Device::CUDA),
                                     with_bias ? b.to(Device::CUDA) : Tensor(), g, algorithm);
    EXPECT_TRUE(test::all_close(out, want_out, kGemmTol.atol, kGemmTol.rtol));
    Conv2dGrads got = conv2d_backward_cuda(x.to(Device::CUDA), w.to(Device::CUDA),
                                           dout.to(Device::CUDA), g, true, true, true, algorithm);
    EXPECT_TRUE(test::all_close(got.dx, want.dx, kGemmTol.atol, kGemmTol.rtol)) << "dx";
    EXPECT_TRUE(test::all_close(got.dweight, want.dweight, kGemmTol.atol, kGemmTol.rtol)) << "dweight";
    EXPECT_TRUE(test::all_close(got.dbias, want.dbias, kGemmTol.atol, kGemmTol.rtol)) << "dbias";
  }
}

TEST(CudaConv2d, MatchesTheReference) {
  SKIP_WITHOUT_CUDA();
  check_conv(2, 3, 9, 7, 5, 3, 1, 1, true);     // the U-Net's 3x3 "same" convolution
  check_conv(2, 4, 8, 8, 6, 3, 2, 1, true);     // a strided downsampling
  check_conv(1, 5, 6, 6, 4, 1, 1, 0, false);    // pointwise: no im2col
  check_conv(2, 2, 11, 10, 3, 4, 3, 2, true);   // stride 3, kernel 4, padding 2
  check_conv(3, 2, 5, 5, 70, 3, 1, 0, true);    // O past one 64-row tile
  check_conv(2, 20, 13, 12, 130, 3, 1, 1, true);  // O, C KH KW and H W past 128-wide tiles
}

// With --precision tf32 the implicit GEMM runs on tensor cores: each output is within TF32's
// bound of the exact value, (2^-10 + 2^-22 + n 2^-24) times the sum of the magnitudes of its n
// products, and that sum is the same convolution of |x|, |w| and |dout| (exactly the terms the
// output sums). The FP32 path would pass too; that TF32 is used is PrecisionSelectsTheVersion's.
TEST(CudaConv2d, Tf32WithinItsErrorBound) {
  SKIP_WITHOUT_CUDA();
  test::PrecisionScope tf32(Precision::TF32);
  const int64_t B = 2, C = 6, H = 9, W = 10, O = 7, k = 3, s = 1, p = 1;
  const Conv2dGeometry g{B, C, H, W, O, k, k, H, W, s, p};
  const Tensor x = randn({B, C, H, W}, 41), w = randn({O, C, k, k}, 42), dout = randn({B, O, H, W}, 43);
  const Tensor out = conv2d_forward_cuda(x.to(Device::CUDA), w.to(Device::CUDA), Tensor(), g);
  const Conv2dGrads got = conv2d_backward_cuda(x.to(Device::CUDA), w.to(Device::CUDA),
                                               dout.to(Device::CUDA), g, true, true, false);
  const Tensor ax = abs(x), aw = abs(w), ad = abs(dout);
  const Conv2dGrads exact = conv2d_backward_reference(x, w, dout, s, p);
  const Conv2dGrads magnitude = conv2d_backward_reference(ax, aw, ad, s, p);
  auto within = [](const Tensor& got, const Tensor& want, const Tensor& mag, int64_t terms) {
    const double rel = std::ldexp(1.0, -10) + std::ldexp(1.0, -22) + terms * std::ldexp(1.0, -24);
    const std::vector<float> g = got.to_vector(), e = want.to_vector(), m = mag.to_vector();
    for (size_t i = 0; i < g.size(); ++i)
      if (std::fabs(static_cast<double>(g[i]) - e[i]) > rel * m[i])
        return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", exact "
                                             << e[i] << ", bound " << rel * m[i];
    return ::testing::AssertionSuccess();
  };
  // Each output sums n products, at most: C k k (forward), O k k (dx), B H W (dweight, summed
  // per image on the tensor cores, then the images' partial sums in FP32: counted as terms too).
  EXPECT_TRUE(within(out, conv2d_reference(x, w, Tensor(), s, p), conv2d_reference(ax, aw, Tensor(), s, p), C * k * k));
  EXPECT_TRUE(within(got.dx, exact.dx, magnitude.dx, O * k * k)) << "dx";
  EXPECT_TRUE(within(got.dweight, exact.dweight, magnitude.dweight, B * H * W)) << "dweight";
}

TEST(CudaImageOps, UpsampleAndAvgPool) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({2, 3, 5, 4}, 15);
  for (int f : {1, 2, 3})
    expect_parity([&](auto in) { return upsample_nearest2d(in[0], f); }, {x});
  Tensor xt = test::param_transposed({2, 3, 4, 5}, 16);
  expect_parity([](auto in) { return upsample_nearest2d(in[0], 2); }, {xt});
  Tensor y = test::param({2, 3, 9, 8}, 17);
  for (int k : {1, 2, 3})
    for (int s : {0, 1, 2, 4})
      expect_parity([&](auto in) { return avg_pool2d(in[0], k, s); }, {y});
  Tensor yt = test::param_transposed({2, 3, 8, 9}, 18);
  expect_parity([](auto in) { return avg_pool2d(in[0], 2); }, {yt});
}

TEST(CudaConcat, AlongEveryAxis) {
  SKIP_WITHOUT_CUDA();
  Tensor a = test::param({2, 3, 4}, 19), b = test::param({2, 5, 4}, 20);
  expect_parity([](auto in) { return concat({in[0], in[1]}, 1); }, {a, b});
  Tensor c = test::param_transposed({2, 3, 6}, 21);
  Tensor d = test::param({2, 3, 1}, 22);
  expect_parity([](auto in) { return concat({in[0], in[1], in[0]}, -1); }, {c, d});
}

TEST(CudaLoss, MseAndCrossEntropy) {
  SKIP_WITHOUT_CUDA();
  Tensor p = test::param({7, 33}, 23), t = test::param({7, 33}, 24);
  expect_parity([](auto in) { return mse_loss(in[0], in[1]); }, {p, t}, kSumTol);
  Tensor big_p = test::param({70000}, 25), big_t = test::param({70000}, 26);  // several partials
  expect_parity([](auto in) { return mse_loss(in[0], in[1]); }, {big_p, big_t}, kSumTol);
  Tensor logits = test::param({6, 45}, 27);
  const std::vector<int64_t> targets = {0, 44, 3, 3, 17, 29};
  expect_parity([&](auto in) { return cross_entropy(in[0] * 4.0f, targets); }, {logits}, kSumTol);
  Tensor lt = test::param_transposed({6, 45}, 28);
  expect_parity([&](auto in) { return cross_entropy(in[0], targets); }, {lt}, kSumTol);
  // Huge logits stay finite on both.
  Tensor huge = from_data({1e4f, -1e4f, -1e4f, 1e4f}, {2, 2});
  EXPECT_TRUE(test::all_close(cross_entropy(huge.to(Device::CUDA), {1, 1}),
                              cross_entropy(huge, {1, 1}), 0.0f, 1e-6f));
}

TEST(CudaDropout, SameMaskAsTheCpu) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({9, 41}, 29);
  Generator gc(77, 3), gg(77, 3);
  Tensor yc = dropout(x, 0.3f, gc);
  Tensor xg = test::cuda_twin(x);
  Tensor yg = dropout(xg, 0.3f, gg);
  EXPECT_EQ(yg.to_vector(), yc.to_vector());
  EXPECT_EQ(gc.offset, gg.offset);
  Tensor dout = randn({9, 41}, 30);
  yc.backward(dout);
  yg.backward(dout.to(Device::CUDA));
  EXPECT_EQ(xg.grad().to_vector(), x.grad().to_vector());
}

}  // namespace
}  // namespace mindiff
