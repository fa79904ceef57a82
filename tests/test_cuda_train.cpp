// Training through train.cpp's recipe diffusion::train (what `train --device cuda` runs) on the CUDA backend (the
// emulator under `make test`) against the same run on the CPU, and run folders moving between
// the devices: a checkpoint written by a CUDA run resumes on the CPU and the other way round.
//
// The model is the score MLP on gmm8, class-conditional with label dropout, AdamW with gradient
// clipping, the EMA with warm-up, and a preview sampled on the device at the last step: every
// piece of the training loop on the device, at a size the emulator runs in a second. (A U-Net
// is not used here: Adam turns the rounding noise of gradients that are zero in exact
// arithmetic, conv biases under a group norm, into full-size steps; see test_cuda_unet.cpp.)
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "diffusion/app/model_io.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/sampler.h"
#include "diffusion/app/train_settings.h"
#include "nn/checkpoint.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;

// The devices' losses agree to float rounding of the forward pass (~1e-6 relative: the device's
// matmuls and reductions sum in another order); loss.csv prints 6 significant digits, which adds
// up to 5e-6 relative. A wrong batch, noise or time on the device is O(1) off.
constexpr double kLossRel = 2e-5;
// Weights after a few AdamW steps: each step moves a weight by about lr (Adam's m / sqrt(v) is
// near +-1), and the devices' gradients differ by float rounding (~1e-6 relative), which moves
// m / sqrt(v) by about as much; 1e-5 absolute (1% of lr = 1e-3) plus 1e-4 relative is far above
// that and far below one step's size (measured under the emulator: ~3e-8, a float ulp or two).
constexpr float kWeightAbs = 1e-5f, kWeightRel = 1e-4f;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mindiff_cuda_train_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

diffusion::TrainSettings toy_run(const std::string& out, Device device, int64_t steps) {
  diffusion::TrainSettings s;
  s.data = "gmm8";
  s.config = "mlp hidden=32 layers=1";
  s.schedule = "vp";
  s.conditional = true;
  s.p_uncond = 0.25;  // some labels dropped in a batch of 64
  s.steps = steps;
  s.batch = 64;
  s.lr = 1e-3;
  s.min_lr = 1e-4;
  s.warmup = 1;
  s.ema_decay = 0.9;
  s.seed = 3;
  s.threads = 0;  // leave the test process's thread count alone
  s.out = out;
  s.checkpoint_every = 100;
  s.sample_every = 3;  // a preview at step 3, sampled where the model is
  s.preview_steps = 2;
  s.log_every = 1000;
  s.device = device_name(device);
  return s;
}

std::vector<double> losses(const std::string& run) {
  std::ifstream csv(run + "/loss.csv");
  std::string line;
  std::vector<double> out;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    out.push_back(std::stod(line.substr(a + 1, b - a - 1)));
  }
  return out;
}

void expect_same_tensors(const std::vector<nn::NamedTensor>& got,
                         const std::vector<nn::NamedTensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  ASSERT_FALSE(want.empty()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << what;
    EXPECT_EQ(got[i].tensor.device(), Device::CPU) << what << " " << got[i].name;
    EXPECT_TRUE(test::all_close(got[i].tensor, want[i].tensor, kWeightAbs, kWeightRel))
        << what << " " << want[i].name;
  }
}

// Model, EMA and optimizer state of two checkpoints agree (and both were loaded to the host).
void expect_same_checkpoint(const std::string& got_path, const std::string& want_path) {
  const nn::Checkpoint got = nn::load_checkpoint(got_path), want = nn::load_checkpoint(want_path);
  EXPECT_EQ(got.step, want.step);
  EXPECT_EQ(got.model_config, want.model_config);
  expect_same_tensors(got.model, want.model, got_path + " model");
  expect_same_tensors(got.ema.tensors, want.ema.tensors, got_path + " ema");
  expect_same_tensors(got.optimizer.tensors, want.optimizer.tensors, got_path + " optimizer");
}

TEST(CudaTrain, RunOnTheDeviceMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  TempDir dir;
  const std::string cpu = dir.path + "/cpu", gpu = dir.path + "/cuda";
  ASSERT_EQ(diffusion::train(toy_run(cpu, Device::CPU, 3)), 0);
  ASSERT_EQ(diffusion::train(toy_run(gpu, Device::CUDA, 3)), 0);

  const std::vector<double> lc = losses(cpu), lg = losses(gpu);
  ASSERT_EQ(lc.size(), 3u);
  ASSERT_EQ(lg.size(), lc.size());
  for (size_t i = 0; i < lc.size(); ++i)
    EXPECT_NEAR(lg[i], lc[i], kLossRel * std::fabs(lc[i])) << "loss of step " << i + 1;
  // The resumable checkpoint (live weights, EMA, AdamW moments) and the final EMA model.
  expect_same_checkpoint(gpu + "/checkpoint.ckpt", cpu + "/checkpoint.ckpt");
  expect_same_tensors(nn::load_checkpoint(gpu + "/model.ckpt").model,
                      nn::load_checkpoint(cpu + "/model.ckpt").model, "model.ckpt");
  EXPECT_TRUE(fs::exists(gpu + "/samples/step_0000003.png"));
  EXPECT_EQ(nn::load_checkpoint(gpu + "/checkpoint.ckpt").extras.at("device"), "cuda");
}

TEST(CudaTrain, CheckpointsMoveBetweenDevices) {
  SKIP_WITHOUT_CUDA();
  TempDir dir;
  const std::string cpu = dir.path + "/cpu", gpu_cpu = dir.path + "/gpu_then_cpu",
                    cpu_gpu = dir.path + "/cpu_then_gpu";
  ASSERT_EQ(diffusion::train(toy_run(cpu, Device::CPU, 3)), 0);
  // Two steps on one device, the third on the other, resumed from the run folder's checkpoint.
  ASSERT_EQ(diffusion::train(toy_run(gpu_cpu, Device::CUDA, 2)), 0);
  ASSERT_EQ(diffusion::train(toy_run(gpu_cpu, Device::CPU, 3)), 0);
  ASSERT_EQ(diffusion::train(toy_run(cpu_gpu, Device::CPU, 2)), 0);
  ASSERT_EQ(diffusion::train(toy_run(cpu_gpu, Device::CUDA, 3)), 0);
  expect_same_checkpoint(gpu_cpu + "/checkpoint.ckpt", cpu + "/checkpoint.ckpt");
  expect_same_checkpoint(cpu_gpu + "/checkpoint.ckpt", cpu + "/checkpoint.ckpt");

  // The CUDA-trained model loads for sampling on the host, and samples as the CPU-trained one.
  const diffusion::LoadedModel mg = diffusion::load_model(cpu_gpu + "/model.ckpt", true);
  const diffusion::LoadedModel mc = diffusion::load_model(cpu + "/model.ckpt", true);
  EXPECT_EQ(mg.net->device(), Device::CPU);
  auto draw = [](const diffusion::LoadedModel& m) {
    diffusion::NetworkDenoiser d(m.net->model_fn(), m.kind, m.process, {1});
    diffusion::SamplerOptions o;
    o.steps = 3;
    return diffusion::sample("dpm-solver++", d, Shape({4, 2}), o).x;
  };
  EXPECT_TRUE(test::all_close(draw(mg), draw(mc), kWeightAbs, kWeightRel));
}

// What train.cpp's loop reads back from the device: ten more steps (with no checkpoint or
// preview among them) cost exactly one copy to the host, the ten steps' losses in one read.
// Everything else a run copies up (the checkpoint and the final model at its last step) is the
// same for both runs, so the difference isolates the steps.
TEST(CudaTrain, TenStepsReadTheirLossesInOneCopy) {
  SKIP_WITHOUT_CUDA();
  TempDir dir;
  auto copies_up = [&](int64_t steps, const std::string& name) {
    diffusion::TrainSettings s = toy_run(dir.path + "/" + name, Device::CUDA, steps);
    s.sample_every = 0;
    cuda::reset_copy_counts();
    EXPECT_EQ(diffusion::train(s), 0) << name;
    return cuda::copy_counts();
  };
  const cuda::CopyCounts ten = copies_up(10, "ten"), twenty = copies_up(20, "twenty");
  EXPECT_EQ(twenty.to_host - ten.to_host, 1u);
  EXPECT_EQ(twenty.to_host_bytes - ten.to_host_bytes, 10 * sizeof(float));
  // On the device: the extra read gathers its 10 losses into one buffer, a copy each (steps
  // themselves copy nothing there; test_cuda_transfers.cpp).
  EXPECT_EQ(twenty.on_device - ten.on_device, 10u);
  EXPECT_EQ(losses(dir.path + "/twenty").size(), 20u);  // every step still logged
}

// A learning rate of 1e30 moves every weight by about 1e30 in the first update, so step 2's loss
// overflows (inf or NaN). On the CPU the loop reads each loss before its update; on the device
// it reads them every few steps (train.cpp, step_losses.h), here first at the last step, 6. Both
// must name step 2, keep its loss out of the log, and save nothing: no checkpoint, no model.
TEST(CudaTrain, NonFiniteLossStopsTheRunAndNamesItsStepOnBothDevices) {
  SKIP_WITHOUT_CUDA();
  TempDir dir;
  for (Device device : {Device::CPU, Device::CUDA}) {
    const std::string out = dir.path + "/" + device_name(device);
    diffusion::TrainSettings s = toy_run(out, device, 6);
    s.lr = 1e30;
    s.sample_every = 0;
    ::testing::internal::CaptureStderr();
    const int status = diffusion::train(s);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(status, 1) << device_name(device);
    EXPECT_NE(err.find("at step 2;"), std::string::npos) << device_name(device) << ": " << err;
    EXPECT_EQ(losses(out).size(), 1u) << device_name(device) << ": only step 1 is logged";
    EXPECT_FALSE(fs::exists(out + "/checkpoint.ckpt")) << device_name(device);
    EXPECT_FALSE(fs::exists(out + "/model.ckpt")) << device_name(device);
  }
}

}  // namespace
}  // namespace mindiff
