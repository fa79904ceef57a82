// sgemm: C = alpha * op(A) op(B) + beta * C, packed and register-blocked (see gemm.h).
//
// Data movement (after Goto & van de Geijn, "Anatomy of high-performance matrix multiplication"):
//   1. K is cut into nk blocks of at most kKcMax (equal sizes, so no tiny last block).
//   2. op(A) is packed into slivers of kMr rows: for K block q and sliver s, the kc x kMr values
//      op(A)[s*kMr + r, k0 + p] sit at ap[k0*Mp + s*kMr*kc + p*kMr + r]  (Mp = M rounded up to
//      kMr, rows past M are zero). op(B) likewise into slivers of kNr columns:
//      op(B)[k0 + p, t*kNr + j] at bp[k0*Np + t*kNr*kc + p*kNr + j].
//      A micro-kernel then reads both operands with unit stride whatever the transposes were.
//      Exceptions: when M is small and B is not transposed, full B slivers are read in place
//      (rows ldb apart, or through sgemm_gather's row table) instead of being copied, as each
//      would serve only a few register tiles; when N is small, full A slivers are read in
//      place the same way (six row pointers, six adjacent values of a stored row of a
//      transposed A, or six gathered values through the tables). Packing reads through the
//      same tables. Which operands are packed changes no arithmetic, only where it reads.
//   3. C is cut into tiles (a few per thread); a thread owns a tile and, for each K block in
//      order, sweeps its kNr-column slivers (one B sliver, kc x 16 floats, stays in L1) and, inside,
//      its kMr-row slivers (the A block of the tile stays in L2).
//   4. The micro-kernel keeps a 6 x 16 tile of C in 12 AVX registers and adds kc rank-1 updates.
// Edge tiles run the same kernel on zero-padded panels through a 6 x 16 scratch tile, so every C
// element is computed by the same sequence of operations.
#include "tensor/ops/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "tensor/ops/simd_transpose.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MINDIFF_GEMM_AVX2 1
#endif

namespace mindiff {

namespace {

constexpr int64_t kMr = 6;       // rows of the register tile
constexpr int64_t kNr = 16;      // columns of the register tile (two 8-float AVX registers)
constexpr int64_t kKcMax = 256;  // K block: a B sliver (256 x 16 floats = 16 KiB) fits in L1
constexpr int64_t kMcTile = 120;   // rows of a C tile: its A block (120 x 256 floats) fits in L2
constexpr int64_t kNcTile = 1024;  // columns of a C tile before splitting for more threads
// Below ~0.5 MFLOP (a few microseconds) starting threads costs more than it saves.
constexpr double kParallelFlops = 5e5;
// Products with at most this many rows read full B slivers in place (non-transposed B only):
// each sliver then serves at most 16 register tiles, too few to repay copying it. Measured on
// conv2d forward products before they went channels last, 32 x 784 x 288 (~15% faster) and,
// through the row table, 64 x 222 x 576 (~15%, min of 3 runs); on large squares packing wins.
constexpr int64_t kDirectBMaxRows = 96;
// Likewise products with at most this many columns read full A slivers in place, each then
// serving at most 4 register tiles: the products of convolutions with 32 or 64 output channels
// that put the channels last (see conv2d.cpp).
constexpr int64_t kDirectAMaxCols = 64;

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }

// Grow-only, 64-byte aligned, one per thread: packing space reused across calls.
float* workspace(int64_t floats) {
  struct Buffer {
    std::unique_ptr<float, decltype(&std::free)> data{nullptr, &std::free};
    int64_t capacity = 0;
  };
  thread_local Buffer buf;
  if (floats > buf.capacity) {
    int64_t cap = round_up(std::max<int64_t>(floats, buf.capacity * 3 / 2), 16);
    buf.data.reset(static_cast<float*>(std::aligned_alloc(64, cap * sizeof(float))));
    if (!buf.data) throw std::bad_alloc();
    buf.capacity = cap;
  }
  return buf.data.get();
}

// Reading a GemmMatrix: the start of stored row r, and the offset of column q within a row.
const float* row_of(const GemmMatrix& x, int64_t r) {
  return x.data + (x.rows ? x.rows[r] : r * x.ld);
}
int64_t col_of(const GemmMatrix& x, int64_t q) { return x.cols ? x.cols[q] : q; }

#ifdef MINDIFF_GEMM_AVX2
// dst[c * ld_dst + r] = stored (r0 + r, col0 + c) for an 8 x 8 block (no column table).
inline void transpose_8x8(const GemmMatrix& src, int64_t r0, int64_t col0, float* dst,
                          int64_t ld_dst) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(row_of(src, r0 + i) + col0);
  transpose_8x8_regs(r);
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ld_dst, r[i]);
}
#endif

// Packs rows [i0, i0 + kMr) x columns [k0, k0 + kc) of op(A) into dst[p * kMr + r].
void pack_a(bool trans, const GemmMatrix& a, int64_t m, int64_t i0, int64_t k0, int64_t kc,
            float* dst) {
  const int64_t rows = std::min(kMr, m - i0);
  if (a.cols && !trans) {  // a column table: six gathered rows, one table entry per step
    const float* src[kMr];
    for (int64_t r = 0; r < rows; ++r) src[r] = row_of(a, i0 + r);
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t q = a.cols[k0 + p];
      for (int64_t r = 0; r < kMr; ++r) dst[p * kMr + r] = r < rows ? src[r][q] : 0.0f;
    }
    return;
  }
  if (a.cols) {  // transposed with a column table: element by element
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = row_of(a, k0 + p);
      for (int64_t r = 0; r < kMr; ++r) dst[p * kMr + r] = r < rows ? src[a.cols[i0 + r]] : 0.0f;
    }
    return;
  }
  if (!trans && rows == kMr) {
    // Six rows read side by side, written one contiguous group of six at a time.
    const float* src[kMr];
    for (int64_t r = 0; r < kMr; ++r) src[r] = row_of(a, i0 + r) + k0;
    int64_t p0 = 0;
#ifdef MINDIFF_GEMM_AVX2
    // 8 columns at a time: the 6 x 8 block (2 zero rows added) transposed in registers, each
    // column stored as 8 floats at dst + p*6; its 2 extra floats land on the first 2 of column
    // p + 1, which the next store overwrites. So p0 + 8 < kc: column p0 + 8 is written later.
    for (; p0 + 8 < kc; p0 += 8) {
      __m256 r[8];
      for (int i = 0; i < kMr; ++i) r[i] = _mm256_loadu_ps(src[i] + p0);
      r[6] = r[7] = _mm256_setzero_ps();
      transpose_8x8_regs(r);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (p0 + j) * kMr, r[j]);
    }
#endif
    for (int64_t p = p0; p < kc; ++p)
      for (int64_t r = 0; r < kMr; ++r) dst[p * kMr + r] = src[r][p];
    return;
  }
  if (!trans) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = row_of(a, i0 + r) + k0;  // contiguous along p
      for (int64_t p = 0; p < kc; ++p) dst[p * kMr + r] = src[p];
    }
  } else {
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = row_of(a, k0 + p) + i0;  // contiguous along r
      for (int64_t r = 0; r < rows; ++r) dst[p * kMr + r] = src[r];
    }
  }
  for (int64_t r = rows; r < kMr; ++r)
    for (int64_t p = 0; p < kc; ++p) dst[p * kMr + r] = 0.0f;
}

// Packs rows [k0, k0 + kc) x columns [j0, j0 + kNr) of op(B) into dst[p * kNr + j].
void pack_b(bool trans, const GemmMatrix& b, int64_t n, int64_t j0, int64_t k0, int64_t kc,
            float* dst) {
  const int64_t cols = std::min(kNr, n - j0);
  if (b.cols) {  // a column table: element by element
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = 0; j < kNr; ++j)
        dst[p * kNr + j] = j >= cols ? 0.0f
                           : trans   ? row_of(b, j0 + j)[b.cols[k0 + p]]
                                     : row_of(b, k0 + p)[b.cols[j0 + j]];
    return;
  }
  if (!trans) {
#ifdef MINDIFF_GEMM_AVX2
    // A full sliver row is two vector copies (a plain 16-float loop becomes a memmove call).
    if (cols == kNr) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = row_of(b, k0 + p) + j0;
        _mm256_storeu_ps(dst + p * kNr, _mm256_loadu_ps(src));
        _mm256_storeu_ps(dst + p * kNr + 8, _mm256_loadu_ps(src + 8));
      }
      return;
    }
#endif
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = row_of(b, k0 + p) + j0;  // contiguous along j
      for (int64_t j = 0; j < cols; ++j) dst[p * kNr + j] = src[j];
      for (int64_t j = cols; j < kNr; ++j) dst[p * kNr + j] = 0.0f;
    }
  } else {
    int64_t p0 = 0;
#ifdef MINDIFF_GEMM_AVX2
    // Full slivers in 8 x 8 blocks: 8 rows of B^T (8 consecutive p each) transposed in registers
    // into 8 rows of the sliver, instead of 16-float-strided scalar stores.
    if (cols == kNr)
      for (; p0 + 8 <= kc; p0 += 8)
        for (int64_t h = 0; h < kNr; h += 8)
          transpose_8x8(b, j0 + h, k0 + p0, dst + p0 * kNr + h, kNr);
#endif
    for (int64_t j = 0; j < cols; ++j) {
      const float* src = row_of(b, j0 + j) + k0;  // contiguous along p
      for (int64_t p = p0; p < kc; ++p) dst[p * kNr + j] = src[p];
    }
    for (int64_t j = cols; j < kNr; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * kNr + j] = 0.0f;
  }
}

// How C is updated with the product acc of one K block:
//   first block, beta == 0: C = alpha * acc       (C not read)
//   first block:            C = alpha * acc + beta * C
//   later blocks:           C = alpha * acc + C
enum class Update { kOverwrite, kScale, kAccumulate };

// How the micro-kernel finds its operands for step p of a K block. A: the 6 values
// op(A)[i + r, k0 + p], r = 0..5; B: the 16 values op(B)[k0 + p, j..j+16), contiguous.
struct APacked {  // a packed sliver: a[p * kMr + r]
  const float* a;
  const float* at(int64_t p, int r) const { return a + p * kMr + r; }
};
struct AInPlace {  // six stored rows of A read where they are: row[r][p]
  const float* row[kMr];
  const float* at(int64_t p, int r) const { return row[r] + p; }
};
struct ATransStrided {  // A stored transposed, read in place: the six values are adjacent
  const float* a;        // at stored row k0, column i
  int64_t ld;
  const float* at(int64_t p, int r) const { return a + p * ld + r; }
};
struct AGather {  // six bases and one offset per step: base[r] + off[p], through tables
  const float* base[kMr];
  const int64_t* off;
  const float* at(int64_t p, int r) const { return base[r] + off[p]; }
};
struct BStrided {  // packed (ld = kNr) or read in place with the caller's ldb
  const float* b;
  int64_t ld;
  const float* row(int64_t p) const { return b + p * ld; }
};
struct BTable {  // read in place through a row table (offsets of rows k0, k0 + 1, ...)
  const float* b;
  const int64_t* off;
  const float* row(int64_t p) const { return b + off[p]; }
};

#ifdef MINDIFF_GEMM_AVX2

// c[0..6) x [0..16) updated with kc rank-1 updates op(A)[:, p] op(B)[p, :]. 12 accumulators + 2 B
// registers + 1 broadcast A register = 15 of the 16 ymm registers. The accumulators are named
// variables, not an array: GCC keeps an array of them in memory and stores it every iteration.
template <class A, class B>
void kernel_6x16(int64_t kc, A a, B b, float* c, int64_t ldc, float alpha, float beta,
                 Update mode) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; ++p) {
    const float* bp = b.row(p);
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
    __m256 ar = _mm256_broadcast_ss(a.at(p, 0));
    c00 = _mm256_fmadd_ps(ar, b0, c00);
    c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a.at(p, 1));
    c10 = _mm256_fmadd_ps(ar, b0, c10);
    c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a.at(p, 2));
    c20 = _mm256_fmadd_ps(ar, b0, c20);
    c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a.at(p, 3));
    c30 = _mm256_fmadd_ps(ar, b0, c30);
    c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a.at(p, 4));
    c40 = _mm256_fmadd_ps(ar, b0, c40);
    c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a.at(p, 5));
    c50 = _mm256_fmadd_ps(ar, b0, c50);
    c51 = _mm256_fmadd_ps(ar, b1, c51);
  }
  const __m256 acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                              {c30, c31}, {c40, c41}, {c50, c51}};
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  for (int r = 0; r < kMr; ++r)
    for (int h = 0; h < 2; ++h) {
      float* dst = c + r * ldc + h * 8;
      __m256 v;
      if (mode == Update::kOverwrite)
        v = _mm256_mul_ps(va, acc[r][h]);
      else if (mode == Update::kScale)
        v = _mm256_fmadd_ps(va, acc[r][h], _mm256_mul_ps(vb, _mm256_loadu_ps(dst)));
      else
        v = _mm256_fmadd_ps(va, acc[r][h], _mm256_loadu_ps(dst));
      _mm256_storeu_ps(dst, v);
    }
}

#else

// Portable version of the same kernel: the compiler vectorises the j loops.
template <class A, class B>
void kernel_6x16(int64_t kc, A a, B b, float* c, int64_t ldc, float alpha, float beta,
                 Update mode) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* bp = b.row(p);
    for (int r = 0; r < kMr; ++r) {
      const float ar = *a.at(p, r);
      for (int j = 0; j < kNr; ++j) acc[r][j] += ar * bp[j];
    }
  }
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) {
      float& dst = c[r * ldc + j];
      if (mode == Update::kOverwrite)
        dst = alpha * acc[r][j];
      else if (mode == Update::kScale)
        dst = alpha * acc[r][j] + beta * dst;
      else
        dst = alpha * acc[r][j] + dst;
    }
}

#endif

// A tile of mr <= 6 rows and nr <= 16 columns: the full kernel on a scratch copy, so edge
// elements get exactly the arithmetic of interior ones.
template <class A, class B>
void kernel_edge(int64_t kc, A a, B b, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha,
                 float beta, Update mode) {
  alignas(64) float tile[kMr * kNr] = {};
  if (mode != Update::kOverwrite)
    for (int64_t r = 0; r < mr; ++r) std::memcpy(tile + r * kNr, c + r * ldc, nr * sizeof(float));
  kernel_6x16(kc, a, b, tile, kNr, alpha, beta, mode);
  for (int64_t r = 0; r < mr; ++r) std::memcpy(c + r * ldc, tile + r * kNr, nr * sizeof(float));
}

// One register tile, full or at an edge.
template <class A, class B>
void tile_6x16(int64_t kc, A a, B b, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha,
               float beta, Update mode) {
  if (mr == kMr && nr == kNr)
    kernel_6x16(kc, a, b, c, ldc, alpha, beta, mode);
  else
    kernel_edge(kc, a, b, c, ldc, mr, nr, alpha, beta, mode);
}

// C = beta * C (the K == 0 or alpha == 0 case); beta == 0 writes zeros without reading C.
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

}  // namespace

void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                     int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p) {
        float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      float& dst = c[i * ldc + j];
      dst = beta == 0.0f ? alpha * acc : alpha * acc + beta * dst;
    }
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  sgemm_gather(trans_a, trans_b, m, n, k, alpha, GemmMatrix{a, lda}, GemmMatrix{b, ldb}, beta, c,
               ldc);
}

namespace {

// How one product is cut up: K blocks, C tiles, which operands are read in place, the threads.
struct GemmPlan {
  int64_t k;
  int64_t nk, kc_full;          // K blocks of equal size kc_full (the last may be shorter)
  int64_t mp, np;               // m and n rounded up to whole register tiles
  int64_t a_slivers, b_slivers;
  bool direct_a, direct_b;      // read in place instead of packed (full slivers only)
  bool parallel;
  int64_t mc, nc, tiles_n, tiles;  // C tiles of mc x nc, tiles_n to a row of tiles
  int64_t kc(int64_t q) const { return std::min(kc_full, k - q * kc_full); }  // K block q's size
};

GemmPlan plan_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                   const GemmMatrix& a, const GemmMatrix& b) {
  GemmPlan p;
  p.k = k;
  p.nk = ceil_div(k, kKcMax);
  p.kc_full = ceil_div(k, p.nk);
  p.mp = round_up(m, kMr), p.np = round_up(n, kNr);
  p.a_slivers = p.mp / kMr, p.b_slivers = p.np / kNr;
  // In place: B needs contiguous rows; a transposed A without a row table, contiguous columns.
  p.direct_b = !trans_b && !b.cols && m <= kDirectBMaxRows;
  p.direct_a = n <= kDirectAMaxCols && !(trans_a && !a.rows && a.cols);
  p.parallel = !omp_in_parallel() && omp_get_max_threads() > 1 && 2.0 * m * n * k >= kParallelFlops;
  const int64_t threads = p.parallel ? omp_get_max_threads() : 1;
  // Tiles of C: shrink them until each thread has a few, and (while they are few) until they
  // divide evenly among the threads: 9 tiles on 2 threads leave one idle for a ninth of the time.
  // Tile sizes change who computes an element, never how.
  int64_t mc = std::min(kMcTile, p.mp), nc = std::min(kNcTile, p.np);
  auto unbalanced = [&](int64_t tiles) {
    return tiles < 4 * threads || (tiles % threads != 0 && tiles < 16 * threads);
  };
  while (unbalanced(ceil_div(m, mc) * ceil_div(n, nc))) {
    if (nc >= 4 * kNr && nc >= mc)
      nc = round_up(nc / 2, kNr);
    else if (mc >= 4 * kMr)
      mc = round_up(mc / 2, kMr);
    else
      break;
  }
  p.mc = mc, p.nc = nc;
  p.tiles_n = ceil_div(n, nc), p.tiles = ceil_div(m, mc) * p.tiles_n;
  return p;
}

// Packs K block q of sliver s (the A slivers first, then B's) unless it is read in place
// (edge slivers always are packed).
void pack_sliver(const GemmPlan& p, int64_t s, int64_t q, bool trans_a, bool trans_b,
                 const GemmMatrix& a, const GemmMatrix& b, int64_t m, int64_t n, float* ap,
                 float* bp) {
  const int64_t k0 = q * p.kc_full, kc = p.kc(q);
  if (s < p.a_slivers) {
    if (!p.direct_a || m - s * kMr < kMr)
      pack_a(trans_a, a, m, s * kMr, k0, kc, ap + k0 * p.mp + s * kMr * kc);
  } else if (!p.direct_b || n - (s - p.a_slivers) * kNr < kNr) {
    pack_b(trans_b, b, n, (s - p.a_slivers) * kNr, k0, kc,
           bp + k0 * p.np + (s - p.a_slivers) * kNr * kc);
  }
}

// C[i:i+mr, j:j+nr] (one register tile) over K block q, reading A and B where the plan says.
void register_tile(const GemmPlan& p, int64_t i, int64_t j, int64_t q, bool trans_a,
                   const GemmMatrix& a, const GemmMatrix& b, const float* ap, const float* bp,
                   float alpha, float beta, float* c, int64_t ldc, int64_t m, int64_t n) {
  const int64_t k0 = q * p.kc_full, kc = p.kc(q);
  const Update mode =
      q > 0 ? Update::kAccumulate : (beta == 0.0f ? Update::kOverwrite : Update::kScale);
  const int64_t nr = std::min(kNr, n - j), mr = std::min(kMr, m - i);
  // A full B sliver read in place (rows ldb apart, or through the table), else the packed one
  // (rows kNr apart).
  const bool direct = p.direct_b && nr == kNr, table = direct && b.rows;
  const float* bs = direct ? b.data + k0 * b.ld + j : bp + k0 * p.np + (j / kNr) * kNr * kc;
  const int64_t ldb_s = direct ? b.ld : kNr;
  float* cij = c + i * ldc + j;
  auto run = [&](auto a_reader) {
    if (table)
      tile_6x16(kc, a_reader, BTable{b.data + j, b.rows + k0}, cij, ldc, mr, nr, alpha, beta,
                mode);
    else
      tile_6x16(kc, a_reader, BStrided{bs, ldb_s}, cij, ldc, mr, nr, alpha, beta, mode);
  };
  const bool full_a = p.direct_a && mr == kMr;
  if (full_a && trans_a && !a.rows) {  // a full A sliver in place
    run(ATransStrided{a.data + k0 * a.ld + i, a.ld});
  } else if (full_a && trans_a) {  // stored row k0 + p, column i + r
    AGather g{{}, a.rows + k0};
    for (int r = 0; r < kMr; ++r) g.base[r] = a.data + col_of(a, i + r);
    run(g);
  } else if (full_a && a.cols) {  // stored row i + r, column k0 + p
    AGather g{{}, a.cols + k0};
    for (int r = 0; r < kMr; ++r) g.base[r] = row_of(a, i + r);
    run(g);
  } else if (full_a) {
    AInPlace in_place;
    for (int r = 0; r < kMr; ++r) in_place.row[r] = row_of(a, i + r) + k0;
    run(in_place);
  } else {
    run(APacked{ap + k0 * p.mp + (i / kMr) * kMr * kc});
  }
}

}  // namespace

void sgemm_gather(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const GemmMatrix& a, const GemmMatrix& b, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  const GemmPlan p = plan_gemm(trans_a, trans_b, m, n, k, a, b);
  // The B panel starts 64-byte aligned, so each 16-float row of a packed sliver is one cache line.
  const int64_t a_floats = round_up(p.mp * k, 16);
  float* ap = workspace(a_floats + p.np * k);
  float* bp = ap + a_floats;
  const int64_t pack_items = (p.a_slivers + p.b_slivers) * p.nk;

#pragma omp parallel if (p.parallel)
  {
#pragma omp for schedule(static)
    for (int64_t w = 0; w < pack_items; ++w)
      pack_sliver(p, w / p.nk, w % p.nk, trans_a, trans_b, a, b, m, n, ap, bp);
    // Dynamic: a tile's result does not depend on the thread that computes it.
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < p.tiles; ++t) {
      const int64_t i0 = (t / p.tiles_n) * p.mc, i1 = std::min(m, i0 + p.mc);
      const int64_t j0 = (t % p.tiles_n) * p.nc, j1 = std::min(n, j0 + p.nc);
      for (int64_t q = 0; q < p.nk; ++q)
        for (int64_t j = j0; j < j1; j += kNr)
          for (int64_t i = i0; i < i1; i += kMr)
            register_tile(p, i, j, q, trans_a, a, b, ap, bp, alpha, beta, c, ldc, m, n);
    }
  }
}

}  // namespace mindiff
