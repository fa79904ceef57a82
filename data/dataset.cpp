// Shared helpers for datasets; see dataset.h.
#include "data/dataset.h"

namespace mindiff {

void bytes_to_unit_range(const uint8_t* in, int64_t n, float* out) {
  // Exact at the ends: 0 / 127.5 - 1 = -1 and 255 / 127.5 - 1 = +1 in float arithmetic.
#pragma omp parallel for schedule(static) if (n >= (1 << 18))
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) / 127.5f - 1.0f;
}

}  // namespace mindiff
