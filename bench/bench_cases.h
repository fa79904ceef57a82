// The cases of `make bench` (each prints one JSON line; see bench_util.h for what is measured).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "nn/unet.h"
#include "tensor/device.h"

namespace mindiff::nn {
class Adam;
}

namespace mindiff::bench {

// bench_kernels.cpp
void bench_fma_peak(int threads);
void bench_sgemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, const char* label,
                 int threads);
void bench_sgemm_reference(int64_t size);
// conv2d with a 3x3 kernel, padding 1: forward, backward-data (dx only) and backward-weight
// (dweight and dbias only), each its own line.
void bench_conv2d(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size,
                  int threads);
void bench_group_norm(int64_t batch, int64_t channels, int64_t size, int threads);
void bench_attention(int64_t batch, int64_t channels, int64_t size, int threads);

// bench_unet.cpp (device: CUDA from mindiff_cuda_bench --unet)
// The U-Net of a preset with its Adam optimizer and a fixed batch x0, on `device`; what the two
// cases below time (and bench/cuda/traffic.cpp counts).
class UnetBench {
 public:
  static constexpr int kSteps = 1000;  // the DDPM schedule's length
  UnetBench(const std::string& preset, int64_t batch, Device device);
  ~UnetBench();
  void forward();      // no-grad forward at t = 500
  float train_step();  // one training step; returns its loss (read back from the device)

 private:
  Generator gen_;
  nn::UNetConfig config_;
  std::unique_ptr<nn::UNet> model_;
  std::unique_ptr<nn::Adam> adam_;
  int64_t batch_;
  Device device_;
  std::vector<double> abar_;
  Tensor x0_, t_forward_;
};

void bench_unet_forward(const std::string& preset, int64_t batch, int threads,
                        Device device = Device::CPU);
void bench_unet_train_step(const std::string& preset, int64_t batch, int threads,
                           Device device = Device::CPU);

}  // namespace mindiff::bench
