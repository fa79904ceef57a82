// The fused attention of cuda/attention.cu (online softmax forward, two-kernel backward) against
// the CPU's composition of matmul and softmax, forward and every gradient, on query and key
// counts that are and are not multiples of the 16- and 8-wide tiles, several heads, the head
// sizes of the U-Nets (64, 128: the largest the fused kernels take) and one past it (composed on
// the device); and the CPU op against the formula it composes.
#include <cmath>

#include "autograd/gradcheck.h"
#include "cuda/attention.h"
#include "tensor/ops.h"
#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

// The fused kernels sum q . k and p v in their own order (float, per tile) and normalise once at
// the end, where the CPU sums products in sgemm's groupings and normalises the probabilities
// first: agreement to float rounding of sums of up to HS or T terms of size ~1.
const test::ParityTolerance kAttentionTol{1e-4f, 1e-4f};

void check(int64_t B, int64_t NH, int64_t HS, int64_t T, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "B " << B << " NH " << NH << " HS " << HS << " T " << T);
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  Tensor q = test::param({B, NH, HS, T}, seed), k = test::param({B, NH, HS, T}, seed + 1),
         v = test::param({B, NH, HS, T}, seed + 2);
  test::expect_parity([scale](auto in) { return attention(in[0], in[1], in[2], scale); }, {q, k, v},
                      kAttentionTol);
}

TEST(CudaAttention, FusedMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  check(2, 2, 8, 20, 1);    // tails in every tile
  check(1, 1, 8, 16, 4);    // exactly one tile
  check(1, 3, 5, 1, 7);     // a single position: softmax of one score is 1
  check(2, 1, 64, 49, 10);  // the small U-Net's attention (7 x 7, 64 channels, one head)
  check(1, 1, kFusedAttentionMaxHeadSize, 33, 13);
}

// Scores far apart (scale 30 on unit inputs): the running maximum must keep every exp finite,
// and the rescaling of earlier tiles must be right when a later tile holds the maximum.
TEST(CudaAttention, LargeScoresStayFinite) {
  SKIP_WITHOUT_CUDA();
  Tensor q = test::param({1, 1, 4, 40}, 21), k = test::param({1, 1, 4, 40}, 22),
         v = test::param({1, 1, 4, 40}, 23);
  test::expect_parity([](auto in) { return attention(in[0], in[1], in[2], 30.0f); }, {q, k, v},
                      kAttentionTol);
}

// The fused backward by finite differences of the fused forward, on the device (gradcheck reads
// and writes device elements by copies): the derivative of the kernels themselves, not only their
// agreement with the CPU's.
TEST(CudaAttention, GradientsByFiniteDifferences) {
  SKIP_WITHOUT_CUDA();
  std::vector<Tensor> in;
  for (uint64_t s : {51, 52, 53}) in.push_back(test::cuda_twin(test::param({1, 2, 3, 18}, s)));
  EXPECT_TRUE(gradcheck("attention", [](auto x) { return attention(x[0], x[1], x[2], 0.8f); }, in));
}

// Past the fused kernels' head size the device composes matmul and softmax: same results.
TEST(CudaAttention, LargeHeadsCompose) {
  SKIP_WITHOUT_CUDA();
  check(1, 1, kFusedAttentionMaxHeadSize + 2, 9, 31);
}

// The CPU op is the formula of attention.h, element by element.
TEST(Attention, CpuIsTheFormula) {
  const int64_t HS = 3, T = 5;
  const Tensor q = randn({1, 1, HS, T}, 41), k = randn({1, 1, HS, T}, 42), v = randn({1, 1, HS, T}, 43);
  const float scale = 0.7f;
  const std::vector<float> got = attention(q, k, v, scale).to_vector();
  const std::vector<float> qv = q.to_vector(), kv = k.to_vector(), vv = v.to_vector();
  for (int64_t i = 0; i < T; ++i) {
    std::vector<double> s(T);
    double mx = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j < T; ++j) {
      double dot = 0.0;
      for (int64_t d = 0; d < HS; ++d) dot += static_cast<double>(qv[d * T + i]) * kv[d * T + j];
      s[j] = scale * dot;
      mx = std::max(mx, s[j]);
    }
    for (int64_t j = 0; j < T; ++j) sum += std::exp(s[j] - mx);
    for (int64_t d = 0; d < HS; ++d) {
      double o = 0.0;
      for (int64_t j = 0; j < T; ++j) o += std::exp(s[j] - mx) / sum * vv[d * T + j];
      // Float sums of 3 and 5 terms of size ~1 against double: a few float ulps.
      constexpr double kFloatSumTol = 1e-5;
      EXPECT_NEAR(got[d * T + i], o, kFloatSumTol) << "d " << d << " i " << i;
    }
  }
}

TEST(Attention, ShapesMustAgree) {
  test::expect_error([] { attention(zeros({1, 1, 2, 3}), zeros({1, 1, 2, 4}), zeros({1, 1, 2, 3}), 1.0f); },
                     {"attention", "[1, 1, 2, 3]", "[1, 1, 2, 4]"});
}

}  // namespace
}  // namespace mindiff
