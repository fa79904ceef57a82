// Host<->device copies of a training step and of sampling on the CUDA device (the emulator under
// `make test`), counted by the backend (cuda::copy_counts(), tensor/device_backend.h). On a GPU
// every copy to the host waits for all the kernels queued before it, and every small copy costs a
// round trip of the driver: a step that makes them cannot keep the device busy. What may cross:
//
//   training step   the batch going down (its images, and its labels as the rows of the class
//                   embedding's one-hot matrix), the step's per-sample training draw going down
//                   (see below), and nothing up: train.cpp keeps each step's loss on the
//                   device and reads those of several steps in one copy (every 10 steps, and
//                   before a checkpoint or preview; step_losses.h)
//   sampler step    nothing: times, coefficients, noise and the timestep embedding are made on
//                   the device; the class rows of a conditional network are sent once per run
//   final samples   one copy up, of the samples themselves
//
// The counts are of steady-state steps (the second, after the first has filled any cache), and
// each test says where its numbers come from. Results themselves are tested elsewhere
// (test_cuda_unet.cpp, test_cuda_train.cpp, test_cuda_samplers.cpp).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "diffusion/app/step_losses.h"
#include "diffusion/network.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/objectives.h"
#include "diffusion/sampler.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using cuda::CopyCounts;

// The training draw of the EDM objective that still goes down from the host: the times are drawn
// there (from the step's generator, as on the CPU) and each per-sample coefficient is a vector of
// B floats computed from them in double and sent: alpha and sigma (for x_t), c_in (the network's
// input), the network time, and 1 / c_out and c_skip / alpha (the regression target).
constexpr size_t kTrainingDrawCopies = 6;
// A mean of 35 squares, summed in another order on the device: a few float ulps.
constexpr double kMeanRel = 1e-6;

// Copies made by f, and only by f.
template <class F>
CopyCounts copies_of(F&& f) {
  cuda::reset_copy_counts();
  f();
  return cuda::copy_counts();
}

// The tiny class-conditional U-Net (base 8, 8x8, 3 classes, dropout on) as `train` builds it.
std::shared_ptr<diffusion::DiffusionNet> tiny_unet(Device device, int64_t classes = 3) {
  const std::string config =
      diffusion::DiffusionNet::config_for_data("tiny base=8 dropout=0.1", Shape({1, 8, 8}), classes);
  Generator init(2);
  auto net = diffusion::DiffusionNet::build(config, init);
  net->module().to(device);
  return net;
}

TEST(CudaTransfers, CountersCountEveryCopyAndReset) {
  SKIP_WITHOUT_CUDA();
  const Tensor host = randn({3, 5}, 1);
  const CopyCounts down = copies_of([&] { (void)host.to(Device::CUDA); });
  EXPECT_EQ(down.to_device, 1u);
  EXPECT_EQ(down.to_device_bytes, 15 * sizeof(float));
  EXPECT_EQ(down.to_host, 0u);
  const Tensor dev = host.to(Device::CUDA);
  const CopyCounts up = copies_of([&] {
    (void)dev.to(Device::CPU);
    (void)dev.slice(0, 0, 1).to_vector();  // a view: the whole storage crosses, once
    (void)sum(dev).item();
  });
  EXPECT_EQ(up.to_host, 3u);
  EXPECT_EQ(up.to_host_bytes, (15 + 15 + 1) * sizeof(float));
  EXPECT_EQ(up.to_device, 0u);
  const CopyCounts on = copies_of([&] {
    empty({3, 5}, Device::CUDA).copy_(dev);             // contiguous: one copy on the device
    empty({5, 3}, Device::CUDA).copy_(dev.transpose(0, 1));  // strided: a kernel, not a copy
  });
  EXPECT_EQ(on.on_device, 1u);
  EXPECT_EQ(on.on_device_bytes, 15 * sizeof(float));
  EXPECT_EQ(on.to_device + on.to_host, 0u);
  cuda::reset_copy_counts();
  const CopyCounts zero = cuda::copy_counts();
  EXPECT_EQ(zero.to_device + zero.to_device_bytes + zero.to_host + zero.to_host_bytes +
                zero.on_device + zero.on_device_bytes,
            0u);
}

// train.cpp's step, on the device: the loss (EDM process and objective, train's defaults),
// backward, gradient clipping, AdamW, the EMA. Each step has its own labels, as batches do (no
// label dropout here: it is drawn on the host and changes no count, but could make two steps'
// label lists equal, and the class embedding sends a list it has seen recently only once).
struct TrainingStep {
  std::shared_ptr<diffusion::DiffusionNet> net = tiny_unet(Device::CUDA);
  std::shared_ptr<diffusion::Process> process = diffusion::make_process("edm");
  diffusion::Objective objective;
  std::vector<Tensor> params = net->module().parameters();
  nn::AdamW optimizer{params, nn::AdamOptions{}};
  nn::Ema ema{net->module().named_parameters(), nn::EmaOptions{0.999, true}};
  const Tensor images = randn({4, 1, 8, 8}, 5);  // the loader's batch, on the host

  TrainingStep() {
    objective.kind = diffusion::parse_parameterization("edm", 0.5);
    net->module().train();
  }

  // One step with the noise of step `k`; reads the loss back when `read_loss`.
  void run(uint64_t k, bool read_loss) {
    Generator gen(k);
    const std::vector<int64_t> labels = {int64_t(k % 3), int64_t((k + 1) % 3),
                                         int64_t((k + 2) % 3), int64_t(k % 3)};
    Tensor loss = diffusion::diffusion_loss(net->model_fn(&gen), images.to(Device::CUDA), labels,
                                            *process, objective, gen);
    optimizer.zero_grad();
    loss.backward();
    if (read_loss) (void)loss.item();
    nn::clip_grad_norm_in_place(params, 1.0f);
    optimizer.step();
    ema.update(params);
  }
};

TEST(CudaTransfers, TrainingStepCopiesTheBatchDownAndOnlyTheLossUp) {
  SKIP_WITHOUT_CUDA();
  TrainingStep step;
  step.run(1, true);  // the first step (fills the allocator's cache; nothing to count)
  const CopyCounts logged = copies_of([&] { step.run(2, true); });
  const CopyCounts quiet = copies_of([&] { step.run(3, false); });
  std::printf("[ INFO     ] training step: %zu copies down (%zu bytes), %zu up (%zu bytes), %zu on "
              "the device\n",
              logged.to_device, logged.to_device_bytes, logged.to_host, logged.to_host_bytes,
              logged.on_device);
  // Up: the loss, one float, when read; nothing else (the timestep embedding and the gradient
  // norm are computed on the device).
  EXPECT_EQ(logged.to_host, 1u);
  EXPECT_EQ(logged.to_host_bytes, sizeof(float));
  EXPECT_EQ(quiet.to_host, 0u);
  // Down: the images [4, 1, 8, 8] and the class rows [4, 4] of the batch, then the training
  // draw: kTrainingDrawCopies per-sample vectors of 4 floats (see kTrainingDrawCopies).
  const size_t batch = 4 * 64 * sizeof(float) + 4 * 4 * sizeof(float);
  EXPECT_EQ(logged.to_device, 2u + kTrainingDrawCopies);
  EXPECT_EQ(logged.to_device_bytes, batch + kTrainingDrawCopies * 4 * sizeof(float));
  EXPECT_EQ(quiet.to_device, logged.to_device);
  // On the device, no copies: every parameter's gradient is the tensor its backward function
  // made, which autograd keeps when nothing else holds it (it used to copy each one).
  EXPECT_EQ(logged.on_device, 0u);
}

// train.cpp keeps each step's loss on the device and reads them every few steps
// (diffusion/app/step_losses.h): keeping copies nothing, and a read of any number of them is
// one copy up of one float each.
TEST(CudaTransfers, KeptLossesComeUpInOneCopy) {
  SKIP_WITHOUT_CUDA();
  const Tensor x = randn({5, 7}, 3);
  const Tensor on_device = x.to(Device::CUDA);
  std::vector<float> want;
  diffusion::StepLosses losses(10);
  const CopyCounts keeping = copies_of([&] {
    for (int k = 1; k <= 7; ++k) {
      const float scale = static_cast<float>(k);
      losses.add(k, mean(square(on_device * scale)), 1e-3, 0.0);
    }
  });
  for (int k = 1; k <= 7; ++k) want.push_back(mean(square(x * static_cast<float>(k))).item());
  EXPECT_EQ(keeping.to_host, 0u);
  EXPECT_EQ(keeping.to_device, 0u);
  std::vector<diffusion::StepLoss> read;
  const CopyCounts reading = copies_of([&] { read = losses.read(); });
  EXPECT_EQ(reading.to_host, 1u);
  EXPECT_EQ(reading.to_host_bytes, 7 * sizeof(float));
  EXPECT_EQ(reading.to_device, 0u);
  ASSERT_EQ(read.size(), 7u);
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].step, static_cast<int64_t>(i + 1));
    // The device's mean sums in another order than the CPU's: float rounding of 35 terms.
    EXPECT_NEAR(read[i].loss, want[i], kMeanRel * std::fabs(want[i])) << "step " << i + 1;
  }
  const CopyCounts empty = copies_of([&] { EXPECT_TRUE(losses.read().empty()); });
  EXPECT_EQ(empty.to_host, 0u);
}

// What `sample` runs: the class-conditional network with guidance, clipped to [-1, 1].
struct GuidedDenoiser {
  diffusion::NetworkDenoiser network;
  diffusion::ClippedDenoiser clipped{network};
  GuidedDenoiser(const diffusion::DiffusionNet& net, const std::string& kind,
                 const std::string& process)
      : network(net.model_fn(nullptr), diffusion::parse_parameterization(kind, 0.5),
                diffusion::make_process(process), {0, 2}, 1.5) {}
};

// One run of `sampler` with `steps` steps on the device, counted; x stays on the device.
CopyCounts sampling_copies(const std::string& sampler, const diffusion::Denoiser& d, int steps,
                           Tensor* x = nullptr) {
  diffusion::SamplerOptions o;
  o.steps = steps;
  o.seed = 4;
  o.device = Device::CUDA;
  return copies_of([&] {
    const Tensor out = diffusion::sample(sampler, d, Shape({2, 1, 8, 8}), o).x;
    if (x) *x = out;
  });
}

TEST(CudaTransfers, SamplerStepsCopyNothing) {
  SKIP_WITHOUT_CUDA();
  const auto net = tiny_unet(Device::CUDA);
  net->module().eval();
  const GuidedDenoiser ddpm(*net, "eps", "ddpm-linear"), vp(*net, "eps", "vp"),
      edm(*net, "edm", "edm");
  const std::vector<std::pair<std::string, const diffusion::Denoiser*>> runs = {
      {"ancestral", &ddpm.clipped}, {"ddim", &ddpm.clipped},     {"euler-maruyama", &vp.clipped},
      {"edm-heun", &edm.clipped},   {"dpm-solver++", &edm.clipped}};
  for (const auto& [sampler, denoiser] : runs) {
    // The first run sends the class rows (conditional and no-class) once; after it a run of
    // any length copies nothing, so neither does any of its steps.
    const CopyCounts first = sampling_copies(sampler, *denoiser, 2);
    std::printf("[ INFO     ] %s: first run %zu down, %zu up\n", sampler.c_str(), first.to_device,
                first.to_host);
    for (int steps : {2, 3}) {
      const CopyCounts c = sampling_copies(sampler, *denoiser, steps);
      std::printf("[ INFO     ] %s, %d steps: %zu down, %zu up\n", sampler.c_str(), steps,
                  c.to_device, c.to_host);
      EXPECT_EQ(c.to_device, 0u) << sampler << ", " << steps << " steps";
      EXPECT_EQ(c.to_host, 0u) << sampler << ", " << steps << " steps";
    }
  }
}

TEST(CudaTransfers, FinalSamplesComeUpInOneCopy) {
  SKIP_WITHOUT_CUDA();
  const auto net = tiny_unet(Device::CUDA);
  net->module().eval();
  const GuidedDenoiser edm(*net, "edm", "edm");
  Tensor x;
  sampling_copies("edm-heun", edm.clipped, 2, &x);
  const CopyCounts up = copies_of([&] { (void)x.to(Device::CPU); });
  EXPECT_EQ(up.to_host, 1u);
  EXPECT_EQ(up.to_host_bytes, static_cast<size_t>(x.numel()) * sizeof(float));
  EXPECT_EQ(up.to_device, 0u);
}

}  // namespace
}  // namespace mindiff
