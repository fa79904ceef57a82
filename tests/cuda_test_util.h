// Helpers for the CUDA tests: they run on the GPU in a `make cuda` build with a device, on the
// emulator in the default test build, and are skipped in a CUDA build on a machine without a GPU.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "cuda/backend.h"
#include "tests/test_util.h"

#define SKIP_WITHOUT_CUDA()                                                              \
  do {                                                                                   \
    if (!::mindiff::cuda::available())                                                   \
      GTEST_SKIP() << "no CUDA device: " << ::mindiff::cuda::device_description();       \
  } while (0)

namespace mindiff::test {

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
