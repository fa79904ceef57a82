// Static thresholding: ClippedDenoiser keeps the denoised estimate in the data range and changes
// nothing where the inner estimate already lies inside it.
#include "diffusion/gmm.h"
#include "tests/test_util.h"

namespace mindiff::diffusion {
namespace {

TEST(ClippedDenoiser, KeepsTheEstimateInRangeAndOtherwiseAgrees) {
  // A 1-D mixture with modes at -0.5 and 0.5 (inside [-1, 1]), under the VP process.
  GaussianMixture mix{{0.5, 0.5}, {{-0.5}, {0.5}}, {0.1, 0.1}};
  auto process = make_process("vp");
  MixtureDenoiser exact(mix, process);
  ClippedDenoiser clipped(exact);
  NoGradGuard ng;
  // Points far outside the data at a small time: the exact x0 estimate is near x itself.
  Tensor x = from_data({-3.0f, -0.45f, 0.0f, 0.55f, 3.0f}, {5, 1});
  Tensor t = time_batch(5, 0.01);
  std::vector<float> inner = exact.denoise(x, t).to_vector();
  std::vector<float> outer = clipped.denoise(x, t).to_vector();
  // Float rounding of (x - sigma eps) / alpha and back: a few ulps of values of order 1.
  const float kRoundTrip = 1e-5f;
  for (size_t i = 0; i < inner.size(); ++i) {
    EXPECT_GE(outer[i], -1.0f - kRoundTrip);
    EXPECT_LE(outer[i], 1.0f + kRoundTrip);
    if (inner[i] > -1.0f && inner[i] < 1.0f) {
      EXPECT_NEAR(outer[i], inner[i], kRoundTrip) << i;
    }
  }
  EXPECT_LT(inner[0], -1.0f);  // the unclipped estimate really was out of range
  EXPECT_NEAR(outer[0], -1.0f, kRoundTrip);
  EXPECT_NEAR(outer[4], 1.0f, kRoundTrip);
}

}  // namespace
}  // namespace mindiff::diffusion
