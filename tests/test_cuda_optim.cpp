// The optimizer kernels of cuda/optim.cu against the CPU's per-element rules (optim_math.h):
// several Adam/AdamW and SGD steps on the device give the CPU loop's numbers, the EMA update
// likewise, and the gradient-norm pieces (sum of squares, scaling). The same formula compiled
// twice may round differently where one compiler fuses a multiply-add and the other does not
// (g++ fuses by default in C++, the emulated kernels are built without fusing, nvcc fuses):
// agreement to a few float ulps. The one-launch updates over all parameters against the
// per-tensor ones: the same kernels' rule on the same inputs, bit for bit.
#include <cmath>

#include "cuda/emu/traffic.h"
#include "cuda/optim.h"
#include "nn/ema.h"
#include "nn/mlp.h"
#include "nn/optim.h"
#include "tensor/ops/optim.h"
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

// Device tensors of the given sizes, N(0, 1) from seed, seed + 1, ...
std::vector<Tensor> device_list(const std::vector<int64_t>& sizes, uint64_t seed) {
  std::vector<Tensor> out;
  for (int64_t n : sizes) out.push_back(randn({n}, seed++).to(Device::CUDA));
  return out;
}
std::vector<Tensor> clones(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) {
    out.push_back(empty(t.shape(), t.device()));
    out.back().copy_(t.detach());
  }
  return out;
}
std::vector<Tensor> device_zeros(const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  for (int64_t n : sizes) out.push_back(zeros({n}, Device::CUDA));
  return out;
}
// The one-launch result against the per-tensor one: the same bits under the emulator (one
// compiler, no fused multiply-adds). On a GPU both kernels inline one rule that nvcc may still
// contract differently in each: a float ulp.
void expect_same(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (cuda::emulated())
      EXPECT_EQ(got[i].to_vector(), want[i].to_vector()) << what << " " << i;
    else
      EXPECT_TRUE(test::all_close(got[i], want[i], 1e-7f, 1e-6f)) << what << " " << i;
  }
}

// Sizes around the chunk (2048 elements) and the block, and empty tensors (slots that own no
// chunk, first and in the middle).
const std::vector<int64_t> kListSizes{0, 1, 255, 2048, 0, 2049, 4096, 5000, 3};

TEST(CudaOptim, OneLaunchAdamIsThePerTensorAdam) {
  SKIP_WITHOUT_CUDA();
  for (bool decoupled : {false, true}) {
    std::vector<Tensor> p = device_list(kListSizes, 1), m = device_zeros(kListSizes),
                        v = device_zeros(kListSizes);
    std::vector<Tensor> p1 = clones(p), m1 = clones(m), v1 = clones(v);
    MultiTensorTable table;
    for (int t = 1; t <= 3; ++t) {
      // Fresh gradient tensors every step, as backward makes them: they go by value, the table
      // of the parameters and moments is uploaded once.
      const std::vector<Tensor> g = device_list(kListSizes, 100 * t);
      const AdamConsts c{1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f,
                         static_cast<float>(1.0 - std::pow(0.9, t)),
                         static_cast<float>(1.0 - std::pow(0.999, t)), decoupled};
      for (size_t i = 0; i < p.size(); ++i) adam_update_(p1[i], g[i], m1[i], v1[i], c);
      adam_update_all_(table, p, g, m, v, c);
    }
    expect_same(p, p1, "p");
    expect_same(m, m1, "exp_avg");
    expect_same(v, v1, "exp_avg_sq");
    EXPECT_EQ(table.uploads, 1);
    // Another set of tensors is another table.
    std::vector<Tensor> q = device_list({7, 3000}, 9), qm = device_zeros({7, 3000}),
                        qv = device_zeros({7, 3000});
    adam_update_all_(table, q, device_list({7, 3000}, 11), qm, qv,
                     AdamConsts{1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f, decoupled});
    EXPECT_EQ(table.uploads, 2);
    EXPECT_EQ(table.slots.size(), 2u);
  }
}

TEST(CudaOptim, OneLaunchSgdAndEmaAreThePerTensorOnes) {
  SKIP_WITHOUT_CUDA();
  for (float momentum : {0.0f, 0.9f}) {
    std::vector<Tensor> p = device_list(kListSizes, 3), p1 = clones(p);
    std::vector<Tensor> buf = momentum != 0.0f ? device_zeros(kListSizes) : std::vector<Tensor>{};
    std::vector<Tensor> buf1 = clones(buf);
    const SgdConsts c{0.05f, momentum, 1e-3f, momentum != 0.0f};
    MultiTensorTable table;
    for (int t = 0; t < 3; ++t) {
      const std::vector<Tensor> g = device_list(kListSizes, 200 + 10 * t);
      for (size_t i = 0; i < p.size(); ++i)
        sgd_update_(p1[i], g[i], buf.empty() ? Tensor() : buf1[i], c);
      sgd_update_all_(table, p, g, buf, c);
    }
    expect_same(p, p1, "sgd p");
    expect_same(buf, buf1, "momentum");
    EXPECT_EQ(table.uploads, 1);
  }
  std::vector<Tensor> shadow = device_list(kListSizes, 5), shadow1 = clones(shadow);
  const std::vector<Tensor> w = device_list(kListSizes, 6);
  MultiTensorTable table;
  for (float omd : {1e-3f, 0.1f, 0.5f}) {
    for (size_t i = 0; i < w.size(); ++i) ema_update_(shadow1[i], w[i], omd);
    ema_update_all_(table, shadow, w, omd);
  }
  expect_same(shadow, shadow1, "ema");
  EXPECT_EQ(table.uploads, 1);
}

// More tensors than one launch's gradient pointers (kMultiTensorGradsPerLaunch): several launches
// over slices of one table.
TEST(CudaOptim, OneLaunchAdamOverManyTensors) {
  SKIP_WITHOUT_CUDA();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 2 * kMultiTensorGradsPerLaunch + 17; ++i) sizes.push_back(i % 11 * 37);
  std::vector<Tensor> p = device_list(sizes, 1), m = device_zeros(sizes), v = device_zeros(sizes);
  std::vector<Tensor> p1 = clones(p), m1 = clones(m), v1 = clones(v);
  const std::vector<Tensor> g = device_list(sizes, 5000);
  const AdamConsts c{1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f, true};
  for (size_t i = 0; i < p.size(); ++i) adam_update_(p1[i], g[i], m1[i], v1[i], c);
  MultiTensorTable table;
  adam_update_all_(table, p, g, m, v, c);
  expect_same(p, p1, "p");
  expect_same(v, v1, "exp_avg_sq");
  EXPECT_EQ(table.uploads, 1);
}

// Clipping by global norm on the device: the CPU's rule (tensor/ops/optim.h) over a list longer
// than one launch takes (3 launches of up to 96 tensors), with sizes around the chunk, empty
// tensors among them, and nothing read back. The norm's double sums differ from the CPU's only
// in order (relative ~1e-16, far below float rounding), so norm and factor are the CPU's floats
// and the scaled values the CPU's bits; kClipRel allows one float ulp for a factor that lands on
// a rounding boundary.
constexpr float kClipRel = 1.2e-7f;

TEST(CudaOptim, ClipByGlobalNormIsTheCpuRuleInAFewLaunches) {
  SKIP_WITHOUT_CUDA();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 200; ++i) sizes.push_back(kListSizes[i % kListSizes.size()] + i % 7);
  for (float max_norm : {5.0f, 1e6f}) {  // clipped, and left alone
    const std::vector<Tensor> dev = device_list(sizes, 300);
    std::vector<Tensor> host;
    for (const Tensor& t : dev) host.push_back(t.to(Device::CPU));
    cuda::reset_copy_counts();
    if (cuda::emulated()) cuda::emu::start_traffic_count();
    const Tensor norm = clip_global_norm_(dev, max_norm);
    const cuda::CopyCounts copies = cuda::copy_counts();
    EXPECT_EQ(copies.to_device + copies.to_host + copies.on_device, 0u);
    if (cuda::emulated()) {
      const cuda::emu::TrafficReport r = cuda::emu::stop_traffic_count();
      EXPECT_EQ(r.size(), 3u);  // these three kernels and nothing else
      EXPECT_EQ(r.at("chunk_sum_squares_kernel").launches, 3);
      EXPECT_EQ(r.at("clip_factor_kernel").launches, 1);
      EXPECT_EQ(r.at("chunk_scale_kernel").launches, 3);
    }
    const float want = clip_global_norm_(host, max_norm).item();
    EXPECT_EQ(norm.device(), Device::CUDA);
    EXPECT_EQ(norm.ndim(), 0);
    EXPECT_NEAR(norm.item(), want, kClipRel * want);
    for (size_t i = 0; i < dev.size(); ++i)
      EXPECT_TRUE(test::all_close(dev[i], host[i], 0.0f, kClipRel)) << "tensor " << i;
    if (max_norm > want) {  // below the bound: untouched, bit for bit
      for (size_t i = 0; i < dev.size(); ++i)
        EXPECT_EQ(dev[i].to_vector(), randn({sizes[i]}, 300 + i).to_vector()) << "tensor " << i;
    }
  }
  // A non-finite norm leaves the values alone, as on the CPU.
  std::vector<Tensor> bad = device_list({10, 3000}, 7);
  bad[1].slice(0, 5, 6).fill_(INFINITY);
  const std::vector<float> before = bad[0].to_vector();
  EXPECT_TRUE(std::isinf(clip_global_norm_(bad, 1.0f).item()));
  EXPECT_EQ(bad[0].to_vector(), before);
}

// nn::AdamW and nn::Ema on a device model take the one-launch path (their tables uploaded once),
// and fall back to one launch per parameter when a parameter has no gradient (its Adam step count
// then lags, so the steps after it stay per parameter): the numbers of a replica that updates
// each parameter by itself, bit for bit under the emulator.
TEST(CudaOptim, OptimizerAndEmaUpdateAllParametersInOneLaunch) {
  SKIP_WITHOUT_CUDA();
  nn::MLPConfig cfg;
  cfg.dim = 2;
  cfg.hidden = 24;
  Generator ga(7), gb(7);
  nn::ScoreMLP a(cfg, ga), b(cfg, gb);
  a.to(Device::CUDA);
  b.to(Device::CUDA);
  nn::AdamOptions adam;
  adam.lr = 1e-2f;
  adam.weight_decay = 0.01f;
  nn::AdamW opt(a.parameters(), adam);
  nn::Ema ema(a.named_parameters(), nn::EmaOptions{0.9, true});
  const std::vector<Tensor> pb = b.parameters();
  std::vector<int64_t> sizes;
  for (const Tensor& t : pb) sizes.push_back(t.numel());
  std::vector<Tensor> m = device_zeros(sizes), v = device_zeros(sizes), shadow = clones(pb);
  std::vector<uint64_t> steps(pb.size(), 0);
  for (int step = 0; step < 4; ++step) {
    Tensor x = randn({8, 2}, 40 + step).to(Device::CUDA), t = rand({8}, 50 + step).to(Device::CUDA);
    Tensor target = randn({8, 2}, 60 + step).to(Device::CUDA);
    opt.zero_grad();
    for (const Tensor& q : pb) q.zero_grad();
    mse_loss(a.forward(x, t), target).backward();
    mse_loss(b.forward(x, t), target).backward();
    if (step == 2) {  // parameter 0 gets no gradient this step
      a.parameters()[0].zero_grad();
      pb[0].zero_grad();
    }
    opt.step();
    for (size_t i = 0; i < pb.size(); ++i) {
      if (!pb[i].grad().defined()) continue;
      const uint64_t k = ++steps[i];
      const AdamConsts c{adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weight_decay,
                         static_cast<float>(1.0 - std::pow(static_cast<double>(adam.beta1), k)),
                         static_cast<float>(1.0 - std::pow(static_cast<double>(adam.beta2), k)),
                         true};
      adam_update_(pb[i], pb[i].grad(), m[i], v[i], c);
    }
    const double d = ema.next_decay();
    ema.update(a.parameters());
    for (size_t i = 0; i < pb.size(); ++i)
      ema_update_(shadow[i], pb[i], static_cast<float>(1.0 - d));
  }
  expect_same(a.parameters(), pb, "parameter");
  std::vector<Tensor> ema_shadow;
  for (const nn::NamedTensor& s : ema.shadow()) ema_shadow.push_back(s.tensor);
  expect_same(ema_shadow, shadow, "ema shadow");
  EXPECT_EQ(opt.device_table_uploads(), 1);
  EXPECT_EQ(ema.device_table_uploads(), 1);
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
