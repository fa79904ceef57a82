// The CUDA backend's plumbing: device memory through the caching allocator, copies between
// devices (Tensor::to, copy_), creation and fill on the device, the random generator giving the
// CPU's numbers, gradients flowing across devices, and the errors for mixed devices.
#include "cuda/caching_allocator.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

constexpr Device kCuda = Device::CUDA;

TEST(CudaBackend, RequireAvailableNamesTheContext) {
  if (cuda::available())
    EXPECT_NO_THROW(cuda::require_available("--device cuda"));
  else
    expect_error([] { cuda::require_available("--device cuda"); },
                 {"--device cuda", "no CUDA device available"});
}

TEST(CudaBackend, SizeClasses) {
  using A = cuda::CachingAllocator;
  EXPECT_EQ(A::size_class(1), 512u);
  EXPECT_EQ(A::size_class(512), 512u);
  EXPECT_EQ(A::size_class(513), 640u);    // 512 + 128: quarter steps of 512
  EXPECT_EQ(A::size_class(1024), 1024u);
  EXPECT_EQ(A::size_class(1025), 1280u);  // 1024 + 256
  EXPECT_EQ(A::size_class(4000), 4096u);  // quarter steps of 2048: 3584 < 4000 <= 4096
  EXPECT_EQ(A::size_class((1u << 20) + 1), (1u << 20) + (1u << 18));
}

TEST(CudaBackend, SteadyStateAllocatesNothingFromTheDevice) {
  SKIP_WITHOUT_CUDA();
  // One "step": a handful of tensors of a few sizes, created and dropped.
  auto step = [] {
    Tensor a = zeros({64, 33}, kCuda), b = ones({7}, kCuda), c = full({3, 5, 2}, 2.0f, kCuda);
    Tensor d = a.to(Device::CPU).to(kCuda);
  };
  step();
  const cuda::MemoryStats before = cuda::memory_stats();
  for (int i = 0; i < 3; ++i) step();
  const cuda::MemoryStats after = cuda::memory_stats();
  EXPECT_EQ(after.device_allocs, before.device_allocs);
  EXPECT_GE(after.cache_hits, before.cache_hits + 12);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(CudaBackend, RoundTripsThroughTheDevice) {
  SKIP_WITHOUT_CUDA();
  Tensor x = randn({3, 4, 5}, 1);
  Tensor y = x.to(kCuda);
  EXPECT_EQ(y.device(), kCuda);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.to_vector(), x.to_vector());
  EXPECT_TRUE(x.to(Device::CPU).same_as(x));  // already there: the tensor itself
  // A non-contiguous CPU view arrives contiguous; a non-contiguous CUDA view comes back through
  // the device's strided copy kernel.
  Tensor xp = x.permute({2, 0, 1});
  EXPECT_EQ(xp.to(kCuda).to_vector(), xp.to_vector());
  EXPECT_TRUE(xp.to(kCuda).is_contiguous());
  Tensor yv = y.slice(2, 1, 5, 2).transpose(0, 1);
  Tensor back = yv.to(Device::CPU);
  EXPECT_EQ(back.device(), Device::CPU);
  EXPECT_EQ(back.to_vector(), x.slice(2, 1, 5, 2).transpose(0, 1).to_vector());
  EXPECT_EQ(yv.contiguous().to_vector(), back.to_vector());
}

TEST(CudaBackend, CreationFillAndCopyOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  EXPECT_EQ(zeros({2, 3}, kCuda).to_vector(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({4}, kCuda).to_vector(), std::vector<float>(4, 1.0f));
  Tensor t = full({3, 4}, 2.5f, kCuda);
  t.slice(1, 1, 3).fill_(-1.0f);  // columns 1 and 2 only
  EXPECT_EQ(t.to_vector(), (std::vector<float>{2.5f, -1, -1, 2.5f, 2.5f, -1, -1, 2.5f, 2.5f, -1,
                                               -1, 2.5f}));
  // copy_ broadcasts a row, within the device and across devices.
  Tensor row = from_data({1, 2, 3, 4}, {4});
  Tensor d = zeros({3, 4}, kCuda);
  d.copy_(row);  // CPU source
  EXPECT_EQ(d.to_vector(), (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}));
  Tensor e = empty({2, 4}, kCuda);
  e.copy_(row.to(kCuda));  // CUDA source, broadcast on the device
  EXPECT_EQ(e.to_vector(), (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4}));
  Tensor h = zeros({4, 3});
  h.copy_(d.transpose(0, 1));  // CUDA view into a CPU tensor
  EXPECT_EQ(h.to_vector(), d.transpose(0, 1).to_vector());
  // Overlapping views of one device storage: the source is read before it is overwritten.
  Tensor v = from_data({0, 1, 2, 3, 4, 5}, {6}).to(kCuda);
  v.slice(0, 1, 6).copy_(v.slice(0, 0, 5));
  EXPECT_EQ(v.to_vector(), (std::vector<float>{0, 0, 1, 2, 3, 4}));
}

TEST(CudaBackend, RandomNumbersAreTheCpusBitForBit) {
  SKIP_WITHOUT_CUDA();
  // The same generator state on both devices: same numbers, same advance of the offset. Sizes
  // not multiples of the two normals or four uniforms per Philox block, and larger than a grid.
  for (int64_t n : {1, 7, 1001, 300000}) {
    Generator gc(12345, 17), gg(12345, 17);
    const std::vector<float> cpu_n = randn({n}, gc).to_vector();
    const std::vector<float> gpu_n = randn({n}, gg, kCuda).to_vector();
    EXPECT_EQ(gc.offset, gg.offset);
    const std::vector<float> cpu_u = rand({n}, gc).to_vector();
    const std::vector<float> gpu_u = rand({n}, gg, kCuda).to_vector();
    EXPECT_EQ(gc.offset, gg.offset);
    ASSERT_EQ(cpu_u.size(), gpu_u.size());
    for (size_t i = 0; i < cpu_u.size(); ++i) ASSERT_EQ(cpu_u[i], gpu_u[i]) << "uniform " << i;
    // Under the emulator the normals share the CPU's libm, so they agree exactly; a GPU's logf
    // and cosf may differ in the last bit (see cuda/random.cu).
    const float tol = cuda::emulated() ? 0.0f : 1e-5f;
    for (size_t i = 0; i < cpu_n.size(); ++i)
      ASSERT_LE(std::fabs(cpu_n[i] - gpu_n[i]), tol * (1.0f + std::fabs(cpu_n[i]))) << "normal " << i;
  }
}

TEST(CudaBackend, GradientsFlowAcrossDevices) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({2, 3}, 5);
  EXPECT_TRUE(test::grad_ok(gradcheck(
      "to_device", [](auto in) { return in[0].to(kCuda).to(Device::CPU) * 3.0f; }, {x})));
  // A CUDA leaf used twice: both gradients arrive on the device and are summed there.
  Tensor w = randn({4}, 6).to(kCuda);
  w.requires_grad_();
  Tensor loss = sum(w.to(Device::CPU)) + sum(w.to(Device::CPU) * 2.0f);
  loss.backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().device(), kCuda);
  EXPECT_EQ(w.grad().to_vector(), std::vector<float>(4, 3.0f));
}

TEST(CudaBackend, MixedDevicesAreAnError) {
  SKIP_WITHOUT_CUDA();
  Tensor a = ones({2}), b = ones({2}, kCuda);
  expect_error([&] { add(a, b); }, {"add", "different devices", "cpu", "cuda"});
}

}  // namespace
}  // namespace mindiff
