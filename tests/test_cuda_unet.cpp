// One training step of a small U-Net (the "tiny" preset: base 8, levels 8x8 and 4x4, attention
// at 4x4, dropout on) on the CUDA backend against the same step on the CPU: the same weights,
// the same batch and noise, the same dropout masks (the generator gives the same numbers on both
// devices). The loss and the gradient of every parameter must agree. (An optimizer step is not
// compared here: Adam divides by the root of the squared gradient, so for a parameter whose
// gradient is zero in exact arithmetic, a conv bias under a group norm, it turns the two devices'
// different rounding noise into full-size steps. The update kernels have their own tests.)
//
// Tolerance: every op agrees with the CPU to float rounding (its parity test), but a step chains
// about a hundred of them, and the convolutions and matmuls sum their products in another order
// than the CPU's sgemm. The test allows 1e-5 relative on the loss and, per parameter, the bound
// below (the run prints the largest error it saw: about 2% of the bound under the emulator), far
// below a wrong kernel's O(1) errors.
#include <cmath>
#include <iostream>

#include "nn/unet.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

// |cuda - cpu| <= kGradAbs + kGradRel * (largest |cpu gradient| of the parameter). The absolute
// part covers gradients that are zero in exact arithmetic and rounding noise in float (a conv
// bias followed by a group norm over its own channel: ~1e-9 here).
constexpr double kGradAbs = 1e-6, kGradRel = 1e-4;

TEST(CudaUNet, TrainingStepMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  nn::UNetConfig cfg = nn::UNetConfig::preset("tiny");
  cfg.dropout = 0.1f;
  Generator init_c(7), init_g(7);
  nn::UNet cpu(cfg, init_c), gpu(cfg, init_g);
  for (const Tensor& p : gpu.parameters()) p.move_to_(Device::CUDA);

  const int64_t B = 3, S = cfg.image_size;
  Tensor x = randn({B, cfg.in_channels, S, S}, 11);
  Tensor t = from_data({3.0f, 250.0f, 999.0f}, {B});
  Tensor noise = randn({B, cfg.in_channels, S, S}, 12);
  Generator drop_c(5), drop_g(5);
  Tensor loss_c = mse_loss(cpu.forward(x, t, {}, &drop_c), noise);
  Tensor loss_g = mse_loss(
      gpu.forward(x.to(Device::CUDA), t.to(Device::CUDA), {}, &drop_g), noise.to(Device::CUDA));
  ASSERT_EQ(loss_g.device(), Device::CUDA);
  EXPECT_EQ(drop_c.offset, drop_g.offset);
  const float lc = loss_c.item(), lg = loss_g.item();
  EXPECT_NEAR(lg, lc, 1e-5f * std::fabs(lc));

  loss_c.backward();
  loss_g.backward();
  const auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  double worst = 0.0;  // the largest error as a fraction of the allowed one
  for (size_t i = 0; i < pc.size(); ++i) {
    const Tensor gc = pc[i].second.grad(), gg = pg[i].second.grad();
    ASSERT_TRUE(gc.defined() && gg.defined()) << pc[i].first;
    ASSERT_EQ(gg.device(), Device::CUDA) << pc[i].first;
    const std::vector<float> a = gc.to_vector(), b = gg.to_vector();
    float scale = 0.0f;
    for (float v : a) scale = std::max(scale, std::fabs(v));
    for (size_t k = 0; k < a.size(); ++k) {
      const double err = std::fabs(a[k] - b[k]);
      worst = std::max(worst, err / (kGradAbs + kGradRel * scale));
      ASSERT_LE(err, kGradAbs + kGradRel * scale)
          << pc[i].first << " element " << k << ": cpu " << a[k] << " cuda " << b[k];
    }
  }
  std::cout << "[ INFO     ] largest gradient error: " << worst << " of the tolerance\n";
}

}  // namespace
}  // namespace mindiff
