// Whole-network cases of `make bench`: the U-Net's no-grad forward (one sampling step's network
// evaluation) and one DDPM training step, defined exactly as the PyTorch twin's benchmark
// (../shared/reference/bench_twin.py) defines them, so the two can be timed in one run:
//
//   forward:    model(x_t, t=500) under no-grad
//   train step: t ~ U{0..999}, eps ~ N(0, I), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
//               loss = MSE(model(x_t, t), eps); zero_grad; backward; Adam(lr 2e-4) step
//
// GFLOP/s count the convolution/linear/attention multiply-adds (x2) of a forward, taken from
// docs/unet.md (small: 0.554 GFLOP per image, cifar: 3.198), and a training step as 3 forwards
// (backward = 2 x forward), as the twin does.
//
// On the CUDA device (bench/cuda/cuda_bench.cpp --unet) the same cases run with the weights,
// the data and the noise on the device, and every timed run ends with cuda::synchronize() (kernels
// are asynchronous). The timesteps and their two scales are drawn on the host and copied, B
// values each, as the twin's script draws its timesteps.
#include "bench/bench_cases.h"

#include <cmath>

#include "autograd/node.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/device_backend.h"
#include "tensor/ops.h"

namespace mindiff::bench {
namespace {

double forward_gflop_per_image(const std::string& preset) {
  if (preset == "small") return 0.554;
  if (preset == "cifar") return 3.198;
  return 0.0;  // unknown: GFLOP/s left out
}

// abar_t of the DDPM linear schedule (beta from 1e-4 to 0.02 over 1000 steps), in double.
std::vector<double> linear_alpha_bar(int steps) {
  std::vector<double> abar(steps);
  double prod = 1.0;
  for (int i = 0; i < steps; ++i) {
    prod *= 1.0 - (1e-4 + (0.02 - 1e-4) * i / (steps - 1));
    abar[i] = prod;
  }
  return abar;
}

// A timed run: the work, and on the device the wait for it.
template <class Run>
auto synchronized(Device device, Run run) {
  return [device, run] {
    run();
    if (device == Device::CUDA) cuda::synchronize();
  };
}

}  // namespace

UnetBench::UnetBench(const std::string& preset, int64_t batch, Device device)
    : gen_(0),
      config_(nn::UNetConfig::preset(preset)),
      model_(std::make_unique<nn::UNet>(config_, gen_)),
      batch_(batch),
      device_(device),
      abar_(linear_alpha_bar(kSteps)) {
  model_->to(device);  // before the optimizer, so that its moments are made on the device
  nn::AdamOptions options;
  options.lr = 2e-4f;
  adam_ = std::make_unique<nn::Adam>(model_->parameters(), options);
  const int64_t s = config_.image_size, c = config_.in_channels;
  x0_ = randn({batch, c, s, s}, gen_, device);
  t_forward_ = full({batch}, 500.0f, device);
}

UnetBench::~UnetBench() = default;

void UnetBench::forward() {
  model_->eval();
  NoGradGuard no_grad;
  model_->forward(x0_, t_forward_);
}

float UnetBench::train_step() {
  model_->train();
  // Timesteps and the per-example scales sqrt(abar_t), sqrt(1 - abar_t), shaped [B, 1, 1, 1].
  const int64_t batch = batch_;
  std::vector<float> t(batch), a(batch), b(batch);
  const std::vector<float> uv = rand({batch}, gen_).to_vector();
  for (int64_t i = 0; i < batch; ++i) {
    const int ti = std::min(kSteps - 1, static_cast<int>(uv[i] * kSteps));
    t[i] = static_cast<float>(ti);
    a[i] = static_cast<float>(std::sqrt(abar_[ti]));
    b[i] = static_cast<float>(std::sqrt(1.0 - abar_[ti]));
  }
  Tensor eps = randn(x0_.shape(), gen_, device_);
  Tensor xt = x0_ * from_data(a, {batch, 1, 1, 1}).to(device_) +
              eps * from_data(b, {batch, 1, 1, 1}).to(device_);
  Tensor loss = mse_loss(model_->forward(xt, from_data(t, {batch}).to(device_)), eps);
  adam_->zero_grad();
  loss.backward();
  adam_->step();
  return loss.item();  // a copy to the host: waits for the step on the device
}

void bench_unet_forward(const std::string& preset, int64_t batch, int threads, Device device) {
  UnetBench unet(preset, batch, device);
  const Timing timing = time_runs([] {}, synchronized(device, [&] { unet.forward(); }), 10, 1.0);
  JsonLine("unet_forward")
      .add("config", preset).add("batch", static_cast<long long>(batch)).add("threads", threads)
      .add("device", device_name(device))
      .timing(timing, 1e9 * forward_gflop_per_image(preset) * batch)
      .print();
}

void bench_unet_train_step(const std::string& preset, int64_t batch, int threads, Device device) {
  UnetBench unet(preset, batch, device);
  float last_loss = 0.0f;
  const Timing timing =
      time_runs([] {}, synchronized(device, [&] { last_loss = unet.train_step(); }), 10, 1.0);
  JsonLine("unet_train_step")
      .add("config", preset).add("batch", static_cast<long long>(batch)).add("threads", threads)
      .add("device", device_name(device))
      .timing(timing, 3e9 * forward_gflop_per_image(preset) * batch)
      .add("final_loss", static_cast<double>(last_loss), 4)
      .print();
}

}  // namespace mindiff::bench
