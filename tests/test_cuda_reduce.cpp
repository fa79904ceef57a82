// CUDA parity of the reductions and softmax, forward and backward: every axis set, keepdim,
// non-contiguous inputs, both reduction kernels (thread per output for N <= 32 or for many
// adjacent outputs, block per output otherwise), rows not multiples of a warp, ties and NaN in max.
#include <cmath>

#include "cuda/emu/traffic.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_parity;

// Sums accumulate in double on both devices but in different orders (the block's tree here, a
// sequential loop on the CPU): agreement to a few float ulps of the largest partial sums.
const test::ParityTolerance kSumTol{2e-5f, 1e-5f};

TEST(CudaReduce, SumMeanOverEveryAxisSet) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({3, 5, 4, 7}, 1);
  const std::vector<std::vector<int>> axis_sets = {{}, {0}, {1}, {3}, {-1, 0}, {1, 2}, {0, 2, 3}};
  for (const auto& axes : axis_sets) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "axes of size " << axes.size() << " keepdim " << keepdim);
      expect_parity([&](auto in) { return sum(in[0], axes, keepdim); }, {x}, kSumTol);
      expect_parity([&](auto in) { return mean(in[0], axes, keepdim); }, {x}, kSumTol);
    }
  }
}

TEST(CudaReduce, LargeReductionsAndViews) {
  SKIP_WITHOUT_CUDA();
  // N = 3000 per output (block kernel, several elements per thread); a transposed input.
  Tensor x = test::param({4, 3000}, 2);
  expect_parity([](auto in) { return sum(in[0], {1}); }, {x}, kSumTol);
  Tensor xt = test::param_transposed({3000, 4}, 3);
  expect_parity([](auto in) { return mean(in[0], {0}, true); }, {xt}, kSumTol);
  expect_parity([](auto in) { return var(in[0], {0}, false, 1); }, {xt}, kSumTol);
  expect_parity([](auto in) { return max(in[0], {0}); }, {xt});
}

// Which kernel a reduction takes: the sum over the images of per-image weight gradients
// ([B, O, C, 9] over B: 8192+ adjacent outputs of N = B) takes the thread per output; the
// same N along the innermost axis (outputs 64 floats apart), or with few outputs, the block.
TEST(CudaReduce, ManyAdjacentOutputsTakeAThreadEach) {
  SKIP_UNLESS_EMULATED();  // the kernel choice is seen through the emulator's count
  struct Case {
    Shape shape;
    std::vector<int> axes;
    const char* kernel;
  };
  const std::vector<Case> cases = {
      {Shape({64, 16, 64, 9}), {0}, "reduce_thread_kernel<kKind>"},      // 9216 outputs, N = 64
      {Shape({1024, 9, 64}), {2}, "reduce_block_kernel<kKind>"},         // innermost axis reduced
      {Shape({40, 8192}), {0}, "reduce_thread_kernel<kKind>"},           // 8192 outputs, N = 40
      {Shape({40, 8191}), {0}, "reduce_block_kernel<kKind>"},            // one output fewer
      {Shape({64, 8, 16}), {0}, "reduce_block_kernel<kKind>"},           // 128 outputs
  };
  for (const Case& c : cases) {
    const Tensor x = randn(c.shape, 9);
    const Tensor xg = x.to(Device::CUDA);
    cuda::emu::start_traffic_count();
    const Tensor got = sum(xg, c.axes);
    const cuda::emu::TrafficReport r = cuda::emu::stop_traffic_count();
    EXPECT_EQ(r.size(), 1u) << c.shape.str();
    EXPECT_TRUE(r.count(c.kernel)) << c.shape.str() << " should take " << c.kernel;
    EXPECT_TRUE(test::all_close(got, sum(x, c.axes), kSumTol.atol, kSumTol.rtol)) << c.shape.str();
  }
}

TEST(CudaReduce, VarianceWithLargeOffset) {
  SKIP_WITHOUT_CUDA();
  // A spread of 1 around 1000: the two-pass variance keeps its digits on both devices.
  Tensor x;
  {
    NoGradGuard ng;
    x = (randn({6, 40}, 4) + 1000.0f).detach();
  }
  x.requires_grad_();
  for (int64_t corr : {0, 1})
    for (const std::vector<int>& axes : std::vector<std::vector<int>>{{1}, {0}, {}})
      expect_parity([&](auto in) { return var(in[0], axes, true, corr); }, {x}, {1e-4f, 1e-4f});
}

TEST(CudaReduce, MaxWithTiesAndNaN) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({5, 9, 6}, 5);
  for (const std::vector<int>& axes : std::vector<std::vector<int>>{{2}, {0, 1}, {}})
    expect_parity([&](auto in) { return max(in[0], axes); }, {x});
  // Ties share the gradient equally.
  Tensor t = from_data({1, 3, 3, 2, 5, 5, 5, 0}, {2, 4});
  t.requires_grad_();
  expect_parity([](auto in) { return max(in[0], {1}); }, {t});
  // A NaN makes its row's maximum NaN.
  Tensor n = from_data({1, NAN, 2, 4, 3, 0}, {2, 3});
  Tensor m = max(n.to(Device::CUDA), {1});
  const std::vector<float> v = m.to_vector();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 4.0f);
}

TEST(CudaSoftmax, RowsAlongEveryAxis) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({3, 37, 5}, 6);
  for (int axis : {0, 1, 2, -1}) {
    SCOPED_TRACE(::testing::Message() << "axis " << axis);
    expect_parity([&](auto in) { return softmax(in[0] * 3.0f, axis); }, {x}, {1e-6f, 1e-5f});
    expect_parity([&](auto in) { return log_softmax(in[0] * 3.0f, axis); }, {x}, {1e-5f, 1e-5f});
  }
  // Long rows (several elements per thread) and a transposed input.
  Tensor xl = test::param_transposed({700, 3}, 7);
  expect_parity([](auto in) { return softmax(in[0], 0); }, {xl}, {1e-6f, 1e-5f});
  expect_parity([](auto in) { return log_softmax(in[0], 0); }, {xl}, {1e-5f, 1e-5f});
  // Large magnitudes stay finite.
  Tensor big = from_data({1e4f, -1e4f, 0.0f, 3.0f}, {1, 4});
  EXPECT_TRUE(test::all_close(softmax(big.to(Device::CUDA)), softmax(big), 0.0f, 1e-6f));
}

}  // namespace
}  // namespace mindiff
