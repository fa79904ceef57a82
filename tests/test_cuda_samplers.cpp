// Sampling on the CUDA device (the emulator under `make test`) against the CPU: the sampler noise
// (step_noise), every sampler family with a network on the device, and a tiny U-Net with the
// clipped denoiser as `sample` runs it. Results must stay on the device and agree with the CPU.
//
// Why the results are not bit-identical: the noise is (under the emulator, whose libm is the
// CPU's), but the device's linear combinations are float ops composed (each product and sum
// rounded) where the CPU's lincomb rounds once from double, and the network's matmuls sum in
// another order. Both are ~1e-7 relative per operation; the samplers then amplify them by their
// coefficients (DDIM's first respaced step multiplies by sqrt(abar_s / abar_t), about 40 here).
#include <cmath>
#include <string>
#include <vector>

#include "diffusion/gmm.h"
#include "diffusion/network.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/noise.h"
#include "diffusion/sampler.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using diffusion::SamplerOptions;

// |cuda - cpu| <= kSampleAbs + kSampleRel |cpu|: float rounding (~1e-7 per operation) amplified
// by at most ~100 by the samplers' coefficients over a few steps leaves ~1e-5 (measured under
// the emulator: 3.6e-5 for the U-Net's DDIM below, under 1e-6 relative for the MLP's samplers);
// a wrong device path (noise from another stream, a tensor left on the host, a wrong time) is
// O(1) off.
constexpr float kSampleAbs = 1e-4f, kSampleRel = 1e-4f;

// Normals on a real GPU go through its logf/cosf (1-2 ulp, see cuda/random.cu); the emulator
// uses the CPU's libm and must match bit for bit.
float noise_tolerance() { return cuda::emulated() ? 0.0f : 1e-6f; }

TEST(CudaSamplers, StepNoiseOnTheDeviceIsTheCpus) {
  SKIP_WITHOUT_CUDA();
  // Even and odd values per sample (odd rows leave one unused normal in the device draw), and a
  // batch that starts at sample 7.
  for (const Shape& shape : {Shape({4, 6}), Shape({3, 5}), Shape({2, 1, 3, 3}), Shape({5, 1})}) {
    const Tensor cpu = diffusion::step_noise(shape, 42, 3, 7);
    const Tensor gpu = diffusion::step_noise(shape, 42, 3, 7, Device::CUDA);
    ASSERT_EQ(gpu.device(), Device::CUDA);
    EXPECT_TRUE(test::all_close(gpu, cpu, noise_tolerance(), 0.0f)) << shape.str();
  }
}

// A small score MLP (random weights: the parity does not need a trained one) on `device`.
struct MlpDenoiser {
  std::unique_ptr<nn::ScoreMLP> net;
  std::unique_ptr<diffusion::NetworkDenoiser> denoiser;
  MlpDenoiser(const std::string& process, Device device) {
    nn::MLPConfig cfg;
    cfg.hidden = 32;
    cfg.layers = 1;
    Generator gen(5);
    net = std::make_unique<nn::ScoreMLP>(cfg, gen);
    net->to(device);
    const nn::ScoreMLP* m = net.get();
    denoiser = std::make_unique<diffusion::NetworkDenoiser>(
        [m](const Tensor& x, const Tensor& t, const std::vector<int64_t>& labels) {
          return m->forward(x, t, labels);
        },
        diffusion::Parameterization::kEps, diffusion::make_process(process));
  }
};

void expect_sampler_parity(const std::string& sampler, const diffusion::Denoiser& cpu,
                           const diffusion::Denoiser& gpu, const Shape& shape,
                           SamplerOptions options) {
  options.seed = 9;
  options.first_index = 3;
  options.trajectory_frames = 2;
  options.device = Device::CPU;
  const diffusion::SampleResult c = diffusion::sample(sampler, cpu, shape, options);
  options.device = Device::CUDA;
  const diffusion::SampleResult g = diffusion::sample(sampler, gpu, shape, options);
  ASSERT_EQ(g.x.device(), Device::CUDA) << sampler;
  EXPECT_EQ(g.evaluations, c.evaluations) << sampler;
  EXPECT_TRUE(test::all_close(g.x, c.x, kSampleAbs, kSampleRel)) << sampler;
  ASSERT_EQ(g.trajectory.size(), c.trajectory.size()) << sampler;
  for (size_t j = 0; j < g.trajectory.size(); ++j) {
    EXPECT_EQ(g.trajectory[j].device(), Device::CUDA) << sampler << " frame " << j;
    EXPECT_TRUE(test::all_close(g.trajectory[j], c.trajectory[j], kSampleAbs, kSampleRel))
        << sampler << " frame " << j;
  }
}

TEST(CudaSamplers, EverySamplerFamilyOnTheDeviceMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Shape shape({6, 2});
  SamplerOptions o;
  o.steps = 3;
  o.denoise_final = true;
  {
    // The discrete DDPM chain; eta > 0 so DDIM draws step noise too.
    MlpDenoiser cpu("ddpm-linear", Device::CPU), gpu("ddpm-linear", Device::CUDA);
    SamplerOptions ddim = o;
    ddim.eta = 0.5;
    expect_sampler_parity("ddim", *cpu.denoiser, *gpu.denoiser, shape, ddim);
    expect_sampler_parity("ancestral", *cpu.denoiser, *gpu.denoiser, shape, o);
  }
  {
    MlpDenoiser cpu("vp", Device::CPU), gpu("vp", Device::CUDA);
    // (ode-rk45 is compared below, on the exact score: its step control accepts or rejects a
    // step by comparing an error estimate with 1, and near t_min this network's velocity
    // g^2 eps / (2 sigma) multiplies rounding differences by ~1e3, enough to flip a decision
    // and send the two devices along different, equally valid, step sequences.)
    for (const char* s : {"euler-maruyama", "pc", "ode-heun", "dpm-solver++"})
      expect_sampler_parity(s, *cpu.denoiser, *gpu.denoiser, shape, o);
  }
  {
    // The Langevin family and stochastic localisation on a VE process, 3 steps each.
    MlpDenoiser cpu("ve", Device::CPU), gpu("ve", Device::CUDA);
    for (const char* s : {"langevin", "annealed-langevin", "walk-jump", "multi-measurement", "jms",
                          "stochastic-localization"})
      expect_sampler_parity(s, *cpu.denoiser, *gpu.denoiser, shape, o);
  }
}

TEST(CudaSamplers, ExactMixtureScoreRunsOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  // The mixture's score is a host computation; x on the device goes there and back. With it
  // ode-rk45 (whose step control runs on the host, the evaluations on the device) sees the same
  // velocities on both devices up to the noise of the prior, so it takes the same steps.
  const diffusion::MixtureDenoiser mix(diffusion::GaussianMixture::ring8(),
                                       diffusion::make_process("vp"));
  SamplerOptions o;
  o.steps = 4;
  expect_sampler_parity("euler-maruyama", mix, mix, Shape({5, 2}), o);
  o.steps = 200;  // attempts allowed per sample
  expect_sampler_parity("ode-rk45", mix, mix, Shape({5, 2}), o);
}

TEST(CudaSamplers, TinyUNetWithClippingMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  // What `sample --device cuda` runs: a class-conditional U-Net (tiny, base 8, 8x8) with
  // classifier-free guidance and the clipped denoiser, 2 DDIM steps.
  const std::string config =
      diffusion::DiffusionNet::config_for_data("tiny base=8", Shape({1, 8, 8}), 3);
  Generator gc(2), gg(2);
  auto cpu_net = diffusion::DiffusionNet::build(config, gc);
  auto gpu_net = diffusion::DiffusionNet::build(config, gg);
  gpu_net->module().to(Device::CUDA);
  EXPECT_EQ(gpu_net->device(), Device::CUDA);
  cpu_net->module().eval();
  gpu_net->module().eval();
  const auto process = diffusion::make_process("ddpm-linear");
  const std::vector<int64_t> labels = {0, 2};
  diffusion::NetworkDenoiser nc(cpu_net->model_fn(), diffusion::Parameterization::kEps, process,
                                labels, 1.5);
  diffusion::NetworkDenoiser ng(gpu_net->model_fn(), diffusion::Parameterization::kEps, process,
                                labels, 1.5);
  diffusion::ClippedDenoiser cc(nc), cg(ng);
  SamplerOptions o;
  o.steps = 2;
  o.eta = 1.0;
  expect_sampler_parity("ddim", cc, cg, Shape({2, 1, 8, 8}), o);
}

TEST(CudaSamplers, MixedDevicesAreRefused) {
  SKIP_WITHOUT_CUDA();
  // A network on the device with samples asked for on the host: a clear error, not garbage.
  MlpDenoiser gpu("vp", Device::CUDA);
  SamplerOptions o;
  o.steps = 2;
  test::expect_error([&] { diffusion::sample("euler-maruyama", *gpu.denoiser, Shape({2, 2}), o); },
                     {"cpu", "cuda"});
}

}  // namespace
}  // namespace mindiff
