// Helpers for the CUDA tests: they run on the GPU in a `make cuda` build with a device, on the
// emulator in the default test build, and are skipped in a CUDA build on a machine without a GPU.
#pragma once
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tensor/device_backend.h"
#include "tensor/precision.h"
#include "tests/test_util.h"

#define SKIP_WITHOUT_CUDA()                                                              \
  do {                                                                                   \
    if (!::mindiff::cuda::available())                                                   \
      GTEST_SKIP() << "no CUDA device: " << ::mindiff::cuda::device_description();       \
  } while (0)

// For tests that look through the emulator (its traffic count): skipped on a real GPU, whose
// kernels the emulator does not see.
#define SKIP_UNLESS_EMULATED()                                                          \
  do {                                                                                  \
    SKIP_WITHOUT_CUDA();                                                                \
    if (!::mindiff::cuda::emulated()) GTEST_SKIP() << "this test needs the CUDA emulator"; \
  } while (0)

namespace mindiff::test {

// Sets the device precision for a scope, and puts FP32 back whatever happens.
struct PrecisionScope {
  explicit PrecisionScope(Precision p) { set_cuda_precision(p); }
  ~PrecisionScope() { set_cuda_precision(Precision::FP32); }
};

// |got - want| <= atol + rtol |want| elementwise, reporting the worst element.
inline ::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, float atol,
                                            float rtol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure()
           << "shapes differ: " << got.shape().str() << " vs " << want.shape().str();
  const std::vector<float> g = got.to_vector(), w = want.to_vector();
  size_t worst = 0;
  double worst_excess = 0.0;
  bool ok = true;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::fabs(static_cast<double>(g[i]) - w[i]);
    const double excess = err - (atol + rtol * std::fabs(w[i]));
    const bool nan_mismatch = std::isnan(g[i]) != std::isnan(w[i]);
    if (nan_mismatch || excess > 0.0) {
      if (ok || nan_mismatch || excess > worst_excess) {
        worst = i;
        worst_excess = nan_mismatch ? INFINITY : excess;
      }
      ok = false;
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst << ": got " << g[worst]
                                       << ", want " << w[worst] << " (shape "
                                       << got.shape().str() << ")";
}

}  // namespace mindiff::test

namespace mindiff::test {

// A copy of `t` on the CUDA device with the same layout: the whole storage is copied and the
// same view (shape, strides, offset) taken of the copy, so a transposed or sliced CPU view
// becomes the same non-contiguous view on the device. A leaf that requires grad if t does.
inline Tensor cuda_twin(const Tensor& t) {
  const int64_t n = static_cast<int64_t>(t.storage()->size());
  Tensor flat = as_strided(t, {n}, {1}, 0).to(Device::CUDA);
  Tensor v = as_strided(flat, t.shape(), t.strides(), t.offset());
  if (t.requires_grad()) v.requires_grad_();
  return v;
}

struct ParityTolerance {
  float atol = 1e-5f;
  float rtol = 1e-5f;
};

// Runs f on the CPU inputs and on their CUDA twins, compares the outputs, then back-propagates
// the same random dout through both and compares the gradient of every input that requires
// grad. Ops whose CUDA kernel sums in another order than the CPU's need a looser tolerance.
inline void expect_parity(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& cpu_inputs, ParityTolerance tol = {},
                          uint64_t dout_seed = 99) {
  std::vector<Tensor> gpu_inputs;
  for (const Tensor& t : cpu_inputs) {
    if (t.defined()) t.zero_grad();  // leaves may be shared by several checks
    gpu_inputs.push_back(t.defined() ? cuda_twin(t) : t);
  }
  Tensor y_cpu = f(cpu_inputs), y_gpu = f(gpu_inputs);
  ASSERT_EQ(y_gpu.device(), Device::CUDA);
  EXPECT_TRUE(all_close(y_gpu, y_cpu, tol.atol, tol.rtol)) << "forward";
  if (!y_cpu.requires_grad()) return;
  Tensor dout = randn(y_cpu.shape(), dout_seed);
  y_cpu.backward(dout);
  y_gpu.backward(dout.to(Device::CUDA));
  for (size_t i = 0; i < cpu_inputs.size(); ++i) {
    if (!cpu_inputs[i].defined() || !cpu_inputs[i].requires_grad()) continue;
    ASSERT_TRUE(gpu_inputs[i].grad().defined()) << "input " << i << " got no gradient";
    EXPECT_EQ(gpu_inputs[i].grad().device(), Device::CUDA);
    EXPECT_TRUE(all_close(gpu_inputs[i].grad(), cpu_inputs[i].grad(), tol.atol, tol.rtol))
        << "gradient of input " << i;
  }
}

}  // namespace mindiff::test
