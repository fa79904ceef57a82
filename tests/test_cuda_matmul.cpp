// CUDA matmul: every kernel version of the ladder in cuda/matmul.cu against the CPU's matmul, on
// sizes that are and are not multiples of the 16 and 64 tiles, transposed operands read in place,
// broadcast batch axes; the versions against each other; and the backward through the default.
#include "cuda/matmul.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_parity;

// The CPU's sgemm and the CUDA kernels sum the K products in different groupings (and the CPU
// with fused multiply-adds): agreement to a few ulps of sums of K terms of size ~1.
const test::ParityTolerance kGemmTol{1e-4f, 1e-4f};

const MatmulKernel kVersions[] = {MatmulKernel::Naive, MatmulKernel::Tiled,
                                  MatmulKernel::RegisterBlocked};

// a @ b with every kernel version, each compared with the CPU; the versions sum in the same order,
// so they agree with each other exactly.
void check_versions(const Tensor& a, const Tensor& b) {
  const Tensor want = matmul(a, b);
  const Tensor ga = test::cuda_twin(a.detach()), gb = test::cuda_twin(b.detach());
  std::vector<float> first;
  for (MatmulKernel k : kVersions) {
    SCOPED_TRACE(::testing::Message() << "kernel version " << static_cast<int>(k) + 1);
    const Tensor got = matmul_cuda(ga, gb, want.shape(), k);
    EXPECT_TRUE(test::all_close(got, want, kGemmTol.atol, kGemmTol.rtol));
    if (first.empty())
      first = got.to_vector();
    else
      EXPECT_EQ(got.to_vector(), first);
  }
}

TEST(CudaMatmul, KernelVersionsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  struct Dims { int64_t m, k, n; };
  for (Dims d : {Dims{1, 1, 1}, Dims{16, 16, 16}, Dims{17, 33, 65}, Dims{64, 8, 64},
                 Dims{70, 9, 130}, Dims{3, 100, 5}, Dims{130, 20, 2}}) {
    SCOPED_TRACE(::testing::Message() << d.m << " x " << d.k << " @ " << d.k << " x " << d.n);
    check_versions(randn({d.m, d.k}, 1), randn({d.k, d.n}, 2));
  }
}

TEST(CudaMatmul, TransposedOperandsAndBroadcastBatches) {
  SKIP_WITHOUT_CUDA();
  // Column-major views of both operands (unit stride down the columns).
  check_versions(randn({40, 23}, 3).transpose(0, 1), randn({37, 40}, 4).transpose(0, 1));
  // [2, 3, 5, 7] @ [3, 7, 4]: the leading batch axis broadcasts b.
  check_versions(randn({2, 3, 5, 7}, 5), randn({3, 7, 4}, 6));
  // [4, 1, 6, 8] @ [1, 3, 8, 5]: each operand broadcasts along one axis.
  check_versions(randn({4, 1, 6, 8}, 7), randn({1, 3, 8, 5}, 8));
  // A shared weight: [2, 9, 12] @ [12, 70].
  check_versions(randn({2, 9, 12}, 9), randn({12, 70}, 10));
  // A stepped slice along K (neither stride is 1).
  check_versions(randn({6, 30}, 11).slice(1, 0, 30, 2), randn({15, 7}, 12));
}

TEST(CudaMatmul, EmptyProducts) {
  SKIP_WITHOUT_CUDA();
  Tensor a = zeros({3, 0}, Device::CUDA), b = zeros({0, 4}, Device::CUDA);
  EXPECT_EQ(matmul(a, b).to_vector(), std::vector<float>(12, 0.0f));
  EXPECT_EQ(matmul(zeros({0, 5}, Device::CUDA), zeros({5, 2}, Device::CUDA)).numel(), 0);
}

TEST(CudaMatmul, BackwardMatchesCpu) {
  SKIP_WITHOUT_CUDA();
  Tensor a = test::param({2, 3, 17, 9}, 13), b = test::param({3, 9, 21}, 14);
  expect_parity([](auto in) { return matmul(in[0], in[1]); }, {a, b}, kGemmTol);
  Tensor x = test::param({5, 7, 12}, 15), w = test::param_transposed({12, 33}, 16);
  expect_parity([](auto in) { return matmul(in[0], in[1]); }, {x, w}, kGemmTol);
  // Attention-shaped: [B, 1, T, HS] @ [1, NH, HS, T].
  Tensor q = test::param({2, 1, 6, 4}, 17), k = test::param({1, 3, 4, 6}, 18);
  expect_parity([](auto in) { return matmul(in[0], in[1]); }, {q, k}, kGemmTol);
}

TEST(CudaMatmul, ErrorsNameBothShapes) {
  SKIP_WITHOUT_CUDA();
  test::expect_error([] { matmul(ones({2, 3}, Device::CUDA), ones({4, 5}, Device::CUDA)); },
                     {"matmul", "[2, 3]", "[4, 5]"});
}

}  // namespace
}  // namespace mindiff
