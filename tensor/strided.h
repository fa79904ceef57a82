// Strided iteration for CPU kernels: visit every element of a rank<=4 shape through K operands,
// each with its own strides (0 along broadcast axes), in contiguous-as-possible rows.
//
// The loop is split into rows along the last axis after merging axes that are contiguous in every
// operand, so an elementwise op over contiguous tensors becomes a few long rows that the compiler
// vectorises. Rows (and chunks of long rows) are shared among OpenMP threads with a static
// schedule: each element is computed by exactly one thread, so results do not depend on the
// thread count.
#pragma once
#include <array>
#include <cstdint>

#include "tensor/shape.h"

namespace mindiff {

using Index4 = std::array<int64_t, kMaxDims>;

// Extents padded on the left with 1 to rank 4.
inline Index4 pad_shape4(const Shape& s) {
  Index4 n{1, 1, 1, 1};
  for (int i = 0; i < s.ndim(); ++i) n[kMaxDims - s.ndim() + i] = s[i];
  return n;
}

// Strides of a tensor with `shape`/`strides` read as if broadcast to `out` (rank <= 4, padded):
// axes the tensor lacks or has with extent 1 get stride 0.
inline Index4 broadcast_strides4(const Shape& shape, const Shape& strides, const Shape& out) {
  Index4 st{0, 0, 0, 0};
  int off = out.ndim() - shape.ndim();
  for (int i = 0; i < shape.ndim(); ++i)
    st[kMaxDims - out.ndim() + off + i] = shape[i] == 1 ? 0 : strides[i];
  return st;
}

// row(offsets, len, inner_strides): process `len` elements, element j of operand k at
// offsets[k] + j * inner_strides[k]. Work under `kSerialBelow` elements runs on one thread.
template <size_t K, class RowFn>
void for_each_row(Index4 n, std::array<Index4, K> st, RowFn&& row) {
  constexpr int64_t kChunk = 8192;       // elements per work item along a long row
  constexpr int64_t kSerialBelow = 32768;  // below this, threading costs more than it saves
  // Coalesce: drop extent-1 axes, then fold an axis into the one inside it when every operand
  // steps through the pair as one axis (outer stride == inner stride * inner extent).
  {
    Index4 cn{1, 1, 1, 1};
    std::array<Index4, K> cst{};
    int m = 0;  // merged axes so far, innermost first, stored right-aligned at 3, 2, ...
    for (int i = kMaxDims - 1; i >= 0; --i) {
      if (n[i] == 1) continue;
      bool fold = m > 0;
      for (size_t k = 0; k < K && fold; ++k)
        fold = st[k][i] == cst[k][kMaxDims - m] * cn[kMaxDims - m];
      if (fold) {
        cn[kMaxDims - m] *= n[i];
      } else {
        ++m;
        cn[kMaxDims - m] = n[i];
        for (size_t k = 0; k < K; ++k) cst[k][kMaxDims - m] = st[k][i];
      }
    }
    n = cn;
    st = cst;
  }
  const int64_t len = n[3];
  const int64_t rows = n[0] * n[1] * n[2];
  if (rows == 0 || len == 0) return;
  const int64_t chunks = (len + kChunk - 1) / kChunk;
  const int64_t items = rows * chunks;
  std::array<int64_t, K> inner;
  for (size_t k = 0; k < K; ++k) inner[k] = st[k][3];
#pragma omp parallel for schedule(static) if (rows * len >= kSerialBelow)
  for (int64_t w = 0; w < items; ++w) {
    int64_t r = w / chunks, c = w % chunks;
    int64_t i2 = r % n[2], i1 = (r / n[2]) % n[1], i0 = r / (n[2] * n[1]);
    int64_t begin = c * kChunk, count = len - begin < kChunk ? len - begin : kChunk;
    std::array<int64_t, K> off;
    for (size_t k = 0; k < K; ++k)
      off[k] = i0 * st[k][0] + i1 * st[k][1] + i2 * st[k][2] + begin * inner[k];
    row(off, count, inner);
  }
}

}  // namespace mindiff
