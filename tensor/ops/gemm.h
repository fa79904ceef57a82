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

// The same product with the rows of A and B found through tables of offsets: stored row r of A
// begins at a + a_rows[r] and stored row r of B at b + b_rows[r] (a null table: rows lda or ldb
// apart, as in sgemm). Stored rows are those of the arrays as laid out: A has M of them (K when
// transposed), B has K (N when transposed); each is contiguous. Rows may overlap. This lets a
// stride-1 convolution read the rows of its im2col matrix straight out of the zero-padded image
// (each row is the image shifted by a fixed offset, see conv2d.cpp) instead of copying them.
// Same arithmetic, same determinism as sgemm.
void sgemm_rows(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const int64_t* a_rows, const float* b, int64_t ldb,
                const int64_t* b_rows, float beta, float* c, int64_t ldc);

}  // namespace mindiff
