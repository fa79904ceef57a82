// CUDA matmul: every kernel version of the ladder in cuda/matmul.cu against the CPU's matmul, on
// sizes that are and are not multiples of the 16, 64 and 128 tiles, transposed operands read in
// place, broadcast batch axes, misaligned and strided views; the FP32 versions against each
// other; the TF32 tensor-core version against a CPU model of its arithmetic and against the FP32
// product within TF32's error bound; the fragment layout against the PTX tables; the backward.
#include <cmath>
#include <cstring>
#include <limits>

#include "cuda/matmul.h"
#include "cuda/mma.h"
#include "tensor/precision.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_parity;

// The CPU's sgemm and the CUDA kernels sum the K products in different groupings (and the CPU
// with fused multiply-adds): agreement to a few ulps of sums of K terms of size ~1.
const test::ParityTolerance kGemmTol{1e-4f, 1e-4f};

const MatmulKernel kVersions[] = {MatmulKernel::Naive, MatmulKernel::Tiled,
                                  MatmulKernel::RegisterBlocked, MatmulKernel::Pipelined};

// TF32 keeps 10 of FP32's 23 mantissa bits: rounding an input moves it by at most 2^-11 of
// itself, so a product of two rounded inputs is within (1 + 2^-11)^2 - 1 < 2^-10 + 2^-22 of the
// exact one; the FP32 sum of K such products adds at most K 2^-24 of the sum of their magnitudes
// (the standard bound for recursive summation, to first order). The bound on each output is that
// relative error times sum_k |a_ik b_kj|, so the test holds for any input, not one scale.
double tf32_error_bound(int64_t k) { return std::ldexp(1.0, -10) + std::ldexp(1.0, -22) + k * std::ldexp(1.0, -24); }

// a @ b with every FP32 kernel version, each compared with the CPU; the versions sum in the same
// order, so they agree with each other exactly.
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

// The TF32 version (v5) on a @ b, for 2-D operands or equal batches:
//   - on the emulator, bit for bit against the CPU model of its arithmetic (cuda/mma.h): inputs
//     rounded to TF32, each output summed one product at a time in k order in FP32;
//   - everywhere (a GPU adds its own, unspecified, order inside an instruction), against the
//     exact (double) product of the unrounded inputs within tf32_error_bound.
void check_tf32(const Tensor& a, const Tensor& b) {
  const Tensor want = matmul(a, b);
  const Tensor got = matmul_cuda(test::cuda_twin(a.detach()), test::cuda_twin(b.detach()),
                                 want.shape(), MatmulKernel::TensorCoreTF32);
  const int64_t m = want.shape()[want.ndim() - 2], n = want.shape()[want.ndim() - 1];
  const int64_t k = a.shape()[a.ndim() - 1], batch = want.numel() / (m * n);
  ASSERT_TRUE(a.numel() == batch * m * k && b.numel() == batch * k * n) << "equal batches only";
  const std::vector<float> av = a.contiguous().to_vector(), bv = b.contiguous().to_vector();
  const std::vector<float> g = got.to_vector();
  const double bound = tf32_error_bound(k);
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float model = 0.0f;
        double exact = 0.0, magnitude = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          const float x = av[(z * m + i) * k + p], y = bv[(z * k + p) * n + j];
          model += cuda::round_to_tf32(x) * cuda::round_to_tf32(y);
          exact += static_cast<double>(x) * y;
          magnitude += std::fabs(static_cast<double>(x) * y);
        }
        const float out = g[(z * m + i) * n + j];
        if (cuda::emulated()) {
          ASSERT_EQ(out, model) << "output (" << z << ", " << i << ", " << j << ")";
        }
        ASSERT_LE(std::fabs(out - exact), bound * magnitude)
            << "output (" << z << ", " << i << ", " << j << "): got " << out << ", exact " << exact;
      }
}

TEST(CudaMatmul, KernelVersionsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  struct Dims { int64_t m, k, n; };
  for (Dims d : {Dims{1, 1, 1}, Dims{16, 16, 16}, Dims{17, 33, 65}, Dims{64, 8, 64},
                 Dims{70, 9, 130}, Dims{3, 100, 5}, Dims{130, 20, 2}, Dims{150, 37, 260}}) {
    SCOPED_TRACE(::testing::Message() << d.m << " x " << d.k << " @ " << d.k << " x " << d.n);
    check_versions(randn({d.m, d.k}, 1), randn({d.k, d.n}, 2));
    check_tf32(randn({d.m, d.k}, 1), randn({d.k, d.n}, 2));
  }
}

// Operands the 16-byte loads of v4 and v5 must handle: aligned column-major views (quads along
// M and along K), a view whose first element is not 16-byte aligned and whose rows are 41 floats
// apart, and a stepped slice (scalar loads).
TEST(CudaMatmul, VectorLoadsAndTheirFallbacks) {
  SKIP_WITHOUT_CUDA();
  const Tensor col_a = randn({32, 24}, 21).transpose(0, 1), col_b = randn({20, 32}, 22).transpose(0, 1);
  check_versions(col_a, col_b);  // [24, 32] @ [32, 20], both column-major, strides 24 and 32
  check_tf32(col_a, col_b);
  const Tensor shifted = randn({9, 41}, 23).slice(1, 1, 41);  // [9, 40], offset 1, rows 41 apart
  const Tensor b = randn({40, 132}, 24);
  check_versions(shifted, b);
  check_tf32(shifted, b);
  check_versions(randn({6, 30}, 25).slice(1, 0, 30, 2), randn({15, 9}, 26));
  check_tf32(randn({6, 30}, 25).slice(1, 0, 30, 2), randn({15, 9}, 26));
  check_tf32(randn({3, 20, 50}, 27), randn({3, 50, 140}, 28));  // batches
}

// The fragment coordinates of cuda/mma.h against the PTX ISA's tables for mma.m16n8k8 with .tf32
// ("Matrix Fragments for mma.m16n8k8"), written out for two lanes, and as maps: every element of
// A, B and C is held by exactly one (lane, register).
TEST(CudaMatmul, TensorCoreFragmentLayout) {
  using namespace cuda;
  // Lane 0: group 0, place 0; lane 22: group 5, place 2.
  EXPECT_EQ((std::vector<int>{mma_a_row(0, 0), mma_a_col(0, 0), mma_a_row(0, 3), mma_a_col(0, 3)}),
            (std::vector<int>{0, 0, 8, 4}));
  const std::vector<int> a22 = {mma_a_row(22, 0), mma_a_col(22, 0), mma_a_row(22, 1), mma_a_col(22, 1),
                                mma_a_row(22, 2), mma_a_col(22, 2), mma_a_row(22, 3), mma_a_col(22, 3)};
  EXPECT_EQ(a22, (std::vector<int>{5, 2, 13, 2, 5, 6, 13, 6}));
  EXPECT_EQ((std::vector<int>{mma_b_row(22, 0), mma_b_row(22, 1), mma_b_col(22)}),
            (std::vector<int>{2, 6, 5}));
  const std::vector<int> c22 = {mma_c_row(22, 0), mma_c_col(22, 0), mma_c_row(22, 1), mma_c_col(22, 1),
                                mma_c_row(22, 2), mma_c_col(22, 2), mma_c_row(22, 3), mma_c_col(22, 3)};
  EXPECT_EQ(c22, (std::vector<int>{5, 4, 5, 5, 13, 4, 13, 5}));
  int a[kMmaM][kMmaK] = {}, b[kMmaK][kMmaN] = {}, c[kMmaM][kMmaN] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) ++a[mma_a_row(lane, r)][mma_a_col(lane, r)];
    for (int r = 0; r < 2; ++r) ++b[mma_b_row(lane, r)][mma_b_col(lane)];
    for (int r = 0; r < 4; ++r) ++c[mma_c_row(lane, r)][mma_c_col(lane, r)];
  }
  for (int i = 0; i < kMmaM; ++i)
    for (int j = 0; j < kMmaK; ++j) EXPECT_EQ(a[i][j], 1) << "A " << i << ", " << j;
  for (int i = 0; i < kMmaK; ++i)
    for (int j = 0; j < kMmaN; ++j) EXPECT_EQ(b[i][j], 1) << "B " << i << ", " << j;
  for (int i = 0; i < kMmaM; ++i)
    for (int j = 0; j < kMmaN; ++j) EXPECT_EQ(c[i][j], 1) << "C " << i << ", " << j;
}

// Rounding to TF32 (cvt.rna): to nearest, ties away from zero, at 2^-10 of the leading bit.
TEST(CudaMatmul, RoundToTf32) {
  using cuda::round_to_tf32;
  const float ulp = std::ldexp(1.0f, -10);  // TF32's unit in the last place at 1
  EXPECT_EQ(round_to_tf32(1.0f), 1.0f);
  EXPECT_EQ(round_to_tf32(1.0f + ulp), 1.0f + ulp);                    // representable
  EXPECT_EQ(round_to_tf32(1.0f + ulp / 2), 1.0f + ulp);                // tie: away from zero
  EXPECT_EQ(round_to_tf32(-(1.0f + ulp / 2)), -(1.0f + ulp));          // on both sides
  EXPECT_EQ(round_to_tf32(1.0f + 3 * ulp / 2), 1.0f + 2 * ulp);        // tie, again away
  EXPECT_EQ(round_to_tf32(std::nextafter(1.0f + ulp / 2, 0.0f)), 1.0f);  // just under the tie
  EXPECT_EQ(round_to_tf32(2.0f - ulp / 4), 2.0f);                      // carry into the exponent
  EXPECT_TRUE(std::isinf(round_to_tf32(std::numeric_limits<float>::max())));  // rounds past max
  EXPECT_TRUE(std::isinf(round_to_tf32(INFINITY)));
  EXPECT_TRUE(std::isnan(round_to_tf32(NAN)));
  uint32_t payload_nan = 0x7f800001u;  // a NaN whose only mantissa bit is one TF32 drops
  float f;
  std::memcpy(&f, &payload_nan, sizeof f);
  EXPECT_TRUE(std::isnan(round_to_tf32(f)));
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
  check_tf32(randn({40, 23}, 3).transpose(0, 1), randn({37, 40}, 4).transpose(0, 1));
}

// --precision tf32 reaches every product on the device: matmul takes v5, and so do convolutions
// (matrix products over im2col); fp32 takes v3. The CPU is untouched.
TEST(CudaMatmul, PrecisionSelectsTheVersion) {
  SKIP_WITHOUT_CUDA();
  const Tensor a = randn({70, 45}, 31), b = randn({45, 66}, 32);
  const Tensor ga = test::cuda_twin(a), gb = test::cuda_twin(b);
  const std::vector<float> v3 = matmul_cuda(ga, gb, {70, 66}, MatmulKernel::RegisterBlocked).to_vector();
  const std::vector<float> v5 = matmul_cuda(ga, gb, {70, 66}, MatmulKernel::TensorCoreTF32).to_vector();
  ASSERT_NE(v3, v5);  // random inputs: TF32 rounding shows in some output
  const Tensor x = randn({2, 5, 9, 9}, 33), w = randn({7, 5, 3, 3}, 34);
  const std::vector<float> conv_fp32 = conv2d(test::cuda_twin(x), test::cuda_twin(w), Tensor(), 1, 1).to_vector();
  {
    test::PrecisionScope tf32(Precision::TF32);
    EXPECT_EQ(matmul(ga, gb).to_vector(), v5);
    const Tensor conv = conv2d(test::cuda_twin(x), test::cuda_twin(w), Tensor(), 1, 1);
    EXPECT_NE(conv.to_vector(), conv_fp32);
    // Each output sums 45 products of unit normals: TF32 moves each product by at most 2^-10 of
    // itself, so the error is at most 2^-10 sum |x w| (about 0.03 for a typical sum of 45
    // |products|, and in practice a tenth of that, the signs being random), while a dropped or
    // misplaced term would be off by ~1.
    constexpr float kTf32ConvTol = 0.05f;
    EXPECT_TRUE(test::all_close(conv, conv2d(x, w, Tensor(), 1, 1), kTf32ConvTol, 0.0f));
    EXPECT_EQ(matmul(a, b).to_vector(), matmul(a, b).to_vector());  // CPU: FP32 regardless
  }
  EXPECT_EQ(matmul(ga, gb).to_vector(), v3);
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
