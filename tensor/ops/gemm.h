// General matrix multiply on raw float32 arrays: the kernel under matmul and conv2d (not an op;
// no autograd, no Tensor).
//
//   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C
//
// Row-major storage with leading dimensions (elements between consecutive rows):
//   op(A)[i, p] = trans_a ? a[p * lda + i] : a[i * lda + p]    (A stored K x M when transposed)
//   op(B)[p, j] = trans_b ? b[j * ldb + p] : b[p * ldb + j]    (B stored N x K when transposed)
//   C[i, j]     = c[i * ldc + j]
// Leading dimensions of A and B may be anything, even 0 (a broadcast row); C's rows must not
// overlap (ldc >= N when M > 1). As in BLAS, C is not read when beta == 0 (it may hold NaN), and
// A and B are not read when K == 0 or alpha == 0 (then C = beta * C).
#pragma once
#include <cstdint>

namespace mindiff {

// The plain triple loop, summing p = 0..K-1 in order in float. The reference sgemm is tested
// against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                     int64_t ldc);

// The fast version: A and B are packed into contiguous panels, C is computed in register-blocked
// 6 x 16 tiles (AVX2/FMA when compiled for it), tiles of C are shared among OpenMP threads.
//
// Deterministic: each C[i, j] is summed by one thread over the same K blocks in the same order,
// whatever the number of threads or the position of (i, j) in a tile, so the result is bitwise
// identical for every thread count. Called from inside an OpenMP parallel region it runs on the
// calling thread alone (so callers may parallelise over independent products instead).
// Packing space is a per-thread buffer that grows as needed and is reused across calls.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// A matrix as stored, read through optional tables of offsets: element (r, q) is at
//   data + (rows ? rows[r] : r * ld) + (cols ? cols[q] : q).
// Without tables it is a plain row-major array with leading dimension ld. The tables let a
// convolution read its im2col matrix straight out of the zero-padded image, where row (c, kh,
// kw) is the image shifted by a fixed offset and column (i, j) an output position (conv2d.cpp).
// Elements may be shared (a table may repeat or overlap offsets).
struct GemmMatrix {
  const float* data;
  int64_t ld = 0;
  const int64_t* rows = nullptr;
  const int64_t* cols = nullptr;
};

// sgemm on matrices read through tables: the same arithmetic and determinism as sgemm, with A
// stored M x K (K x M when transposed) and B stored K x N (N x K when transposed).
void sgemm_gather(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const GemmMatrix& a, const GemmMatrix& b, float beta, float* c, int64_t ldc);

}  // namespace mindiff
