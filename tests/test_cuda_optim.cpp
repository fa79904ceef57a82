// The optimizer kernels of cuda/optim.cu against the CPU's per-element rules (optim_math.h):
// several Adam/AdamW and SGD steps on the device give the CPU loop's numbers, the EMA update
// likewise, and the gradient-norm pieces (sum of squares, scaling). The same formula compiled
// twice may round differently where one compiler fuses a multiply-add and the other does not
// (g++ fuses by default in C++, the emulated kernels are built without fusing, nvcc fuses):
// agreement to a few float ulps.
#include <cmath>

#include "cuda/optim.h"
#include "nn/ema.h"
#include "nn/mlp.h"
#include "nn/optim.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

void expect_ulps(const Tensor& got, const std::vector<float>& want) {
  EXPECT_TRUE(test::all_close(got, from_data(want, {static_cast<int64_t>(want.size())}), 1e-7f,
                              1e-6f));
}

TEST(CudaOptim, AdamStepsMatchTheCpuRule) {
  SKIP_WITHOUT_CUDA();
  for (bool decoupled : {false, true}) {
    const int64_t n = 1000;  // not a multiple of the 256-thread blocks
    std::vector<float> p = randn({n}, 1).to_vector(), m(n, 0.0f), v(n, 0.0f);
    Tensor pg = from_data(p, {n}).to(Device::CUDA), mg = zeros({n}, Device::CUDA),
           vg = zeros({n}, Device::CUDA);
    for (int t = 1; t <= 3; ++t) {
      const std::vector<float> g = randn({n}, 10 + t).to_vector();
      const AdamConsts c{1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f,
                         static_cast<float>(1.0 - std::pow(0.9, t)),
                         static_cast<float>(1.0 - std::pow(0.999, t)), decoupled};
      for (int64_t k = 0; k < n; ++k) adam_update_f(p[k], g[k], m[k], v[k], c);
      adam_update_cuda(pg, from_data(g, {n}).to(Device::CUDA), mg, vg, c);
    }
    expect_ulps(pg, p);
    expect_ulps(mg, m);
    expect_ulps(vg, v);
  }
}

TEST(CudaOptim, SgdAndEmaMatchTheCpuRule) {
  SKIP_WITHOUT_CUDA();
  const int64_t n = 300;
  for (float momentum : {0.0f, 0.9f}) {
    std::vector<float> p = randn({n}, 2).to_vector(), buf(n, 0.0f);
    Tensor pg = from_data(p, {n}).to(Device::CUDA);
    Tensor bg = momentum != 0.0f ? zeros({n}, Device::CUDA) : Tensor();
    const SgdConsts c{0.05f, momentum, 1e-3f, true};
    for (int t = 0; t < 3; ++t) {
      const std::vector<float> g = randn({n}, 20 + t).to_vector();
      for (int64_t k = 0; k < n; ++k) sgd_update_f(p[k], g[k], buf[k], c);
      sgd_update_cuda(pg, from_data(g, {n}).to(Device::CUDA), bg, c);
    }
    expect_ulps(pg, p);
  }
  std::vector<float> s = randn({n}, 3).to_vector();
  const std::vector<float> w = randn({n}, 4).to_vector();
  Tensor sg = from_data(s, {n}).to(Device::CUDA);
  for (int64_t k = 0; k < n; ++k) ema_update_f(s[k], w[k], 1e-3f);
  ema_update_cuda(sg, from_data(w, {n}).to(Device::CUDA), 1e-3f);
  expect_ulps(sg, s);
}

TEST(CudaOptim, GradientNormPieces) {
  SKIP_WITHOUT_CUDA();
  const int64_t n = 100000;  // more elements than 256 blocks of 256 threads: grid-stride loops
  Tensor x = randn({n}, 5);
  double want = 0.0;
  for (float v : x.to_vector()) want += static_cast<double>(v) * v;
  Tensor xg = x.to(Device::CUDA);
  EXPECT_NEAR(sum_squares_cuda(xg), want, 1e-9 * want);
  scale_cuda(xg, 0.5f);
  EXPECT_EQ(xg.to_vector(), (x * 0.5f).to_vector());
}

// Weights of a model trained a few steps on each device: the gradients differ by float rounding
// (the device's matmuls sum in another order, ~1e-6 relative); Adam moves each weight by about
// lr m / sqrt(v), which such differences change by as little, so 1e-5 absolute (0.1% of lr)
// plus 1e-4 relative is ample, and a wrong update is a whole lr = 1e-2 off.
constexpr float kModelAbs = 1e-5f, kModelRel = 1e-4f;
// The global gradient norm (a sum of squares in double on both devices, of gradients that
// agree to ~1e-6 relative).
constexpr float kNormRel = 1e-5f;

// The nn classes on a model moved to the device: three steps of AdamW with gradient clipping
// and an EMA, and of SGD with Nesterov momentum, give the CPU's weights. (A score MLP: every
// gradient is well away from zero, so Adam's division by the gradient's root mean square does
// not amplify rounding noise.)
TEST(CudaOptim, ModelTrainsOnTheDeviceAsOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  nn::MLPConfig cfg;
  cfg.dim = 2;
  cfg.hidden = 48;
  Generator gc(3), gg(3);
  nn::ScoreMLP cpu(cfg, gc), gpu(cfg, gg);
  gpu.to(Device::CUDA);
  nn::AdamOptions adam;
  adam.lr = 1e-2f;
  adam.weight_decay = 0.01f;
  nn::AdamW adam_c(cpu.parameters(), adam), adam_g(gpu.parameters(), adam);
  nn::SgdOptions sgd;
  sgd.lr = 1e-2f;
  sgd.momentum = 0.9f;
  sgd.nesterov = true;
  nn::Sgd sgd_c(cpu.parameters(), sgd), sgd_g(gpu.parameters(), sgd);
  nn::Ema ema_c(cpu.named_parameters(), nn::EmaOptions{}), ema_g(gpu.named_parameters(), nn::EmaOptions{});
  for (int step = 0; step < 6; ++step) {
    Tensor x = randn({16, 2}, 40 + step), t = rand({16}, 50 + step), target = randn({16, 2}, 60 + step);
    adam_c.zero_grad();
    adam_g.zero_grad();
    mse_loss(cpu.forward(x, t), target).backward();
    mse_loss(gpu.forward(x.to(Device::CUDA), t.to(Device::CUDA)), target.to(Device::CUDA)).backward();
    const float nc = nn::clip_grad_norm(cpu.parameters(), 0.5f);
    const float ng = nn::clip_grad_norm(gpu.parameters(), 0.5f);
    EXPECT_NEAR(ng, nc, kNormRel * nc);
    nn::Optimizer& opt_c = step < 3 ? static_cast<nn::Optimizer&>(adam_c) : sgd_c;
    nn::Optimizer& opt_g = step < 3 ? static_cast<nn::Optimizer&>(adam_g) : sgd_g;
    opt_c.step();
    opt_g.step();
    ema_c.update(cpu.parameters());
    ema_g.update(gpu.parameters());
  }
  const auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_EQ(pg[i].second.device(), Device::CUDA);
    EXPECT_TRUE(test::all_close(pg[i].second, pc[i].second, kModelAbs, kModelRel)) << pc[i].first;
  }
  // The EMA's state is a host copy, whatever the device (checkpoints are written from it).
  for (const nn::NamedTensor& s : ema_g.state().tensors) EXPECT_EQ(s.tensor.device(), Device::CPU);
  ema_g.swap_in(gpu.parameters());
  ema_c.swap_in(cpu.parameters());
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(test::all_close(pg[i].second, pc[i].second, kModelAbs, kModelRel)) << "ema " << pc[i].first;
  // Parameters on two devices in one optimizer are refused.
  test::expect_error([&] { nn::AdamW({cpu.parameters()[0], gpu.parameters()[1]}, adam); },
                     {"optimizer", "cpu", "cuda"});
}

}  // namespace
}  // namespace mindiff
