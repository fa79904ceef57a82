// Batched matrix product C = A B on the GPU, in three versions from naive to fast, each checked
// against the CPU's matmul (tests/test_cuda_matmul.cpp) and timed by bench/cuda_bench.cu.
//
// Shapes: A [M, K], B [K, N], C [M, N] per batch item; C contiguous, A and B read through
// (row stride, column stride), so a transposed view (column stride 1) costs no copy. Batch item z
// = i0 * nb1 + i1 of the output reads A and B at their batch strides (0 where they broadcast).
// Versions v1 to v4 sum k = 0, 1, ..., K-1 in order for each output, so they agree with each
// other exactly (up to the FMA contraction nvcc applies) and with the CPU to float rounding.
//
// Why a ladder: a GPU's arithmetic is so fast that a matrix product is limited by how often each
// operand element is fetched from memory, and then by how well the loads hide behind the math.
//   v1 naive             each output reads its K pairs from global memory: 2 K loads per K FMAs.
//   v2 shared tiles      a block stages 16 x 16 tiles of A and B in shared memory; each element
//                        fetched from global memory serves 16 outputs. Inner loop: 2 shared
//                        loads per FMA (one of them a broadcast).
//   v3 register blocks   a block computes a 64 x 64 tile of C from 64 x 8 and 8 x 64 tiles, and
//                        each thread a 4 x 4 block of it held in registers: per k, 4 + 4 shared
//                        loads feed 16 FMAs, and each global element serves 64 outputs.
//   v4 pipelined         128 x 128 block tiles, 8 x 8 outputs per thread (64 FMAs per 16 shared
//                        loads, each global element serving 128 outputs), 16-byte vector loads
//                        from global memory, and two shared buffers: the next tile's loads are
//                        in flight while the current one is multiplied.
//   v5 tensor cores      v4's tiles and pipeline, multiplied by TF32 tensor-core instructions
//                        (cuda/mma.h): inputs rounded to TF32 (10 mantissa bits), FP32 sums. Not
//                        FP32 arithmetic: it is what --precision tf32 selects, and is compared
//                        with the CPU to TF32's rounding, and bit for bit with a CPU model of its
//                        own arithmetic (tests/test_cuda_matmul.cpp).
// v1 to v4 sum k = 0, 1, ..., K-1 in order, one product at a time; v5 too, but of rounded inputs.
#include "cuda/matmul.h"

#include "cuda/kernel.h"
#include "cuda/mma.h"
#include "cuda/strided.h"
#include "tensor/precision.h"

namespace mindiff {

namespace {

using cuda::kMmaK;
using cuda::load_shared4;
using cuda::mma_a_col;
using cuda::mma_a_row;
using cuda::mma_b_col;
using cuda::mma_b_row;
using cuda::mma_c_col;
using cuda::mma_c_row;
using cuda::mma_m16n8k8_tf32;
using cuda::round_to_tf32;
using cuda::SharedPtr;

struct GemmArgs {
  const float* a;
  int64_t a_rs, a_cs, a_bs0, a_bs1;  // row, column and batch strides of A
  const float* b;
  int64_t b_rs, b_cs, b_bs0, b_bs1;
  float* c;                          // [batch, M, N], contiguous
  int64_t m, n, k;
  int64_t batch, nb1;                // batch items; extent of the inner batch axis
};

// A and B of batch item z.
__device__ __forceinline__ const float* batch_a(const GemmArgs& g, int64_t z) {
  return g.a + (z / g.nb1) * g.a_bs0 + (z % g.nb1) * g.a_bs1;
}
__device__ __forceinline__ const float* batch_b(const GemmArgs& g, int64_t z) {
  return g.b + (z / g.nb1) * g.b_bs0 + (z % g.nb1) * g.b_bs1;
}

// ---- v1: naive ----
// Block of 16 x 16 threads; thread (x, y) of block (bx, by) computes C[i, j] with
// i = by * 16 + y and j = bx * 16 + x. The threads of a warp take consecutive columns j, so their
// reads of a row of B and writes of a row of C are consecutive addresses (coalesced), and they all
// read the same A element (one broadcast load).
constexpr int kNaiveBlock = 16;

__global__ void matmul_naive_kernel(GemmArgs g) {
  const int64_t i = static_cast<int64_t>(blockIdx.y) * kNaiveBlock + threadIdx.y;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kNaiveBlock + threadIdx.x;
  if (i >= g.m || j >= g.n) return;  // no barriers in this kernel: leaving early is safe
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const float* a = batch_a(g, z) + i * g.a_rs;
    const float* b = batch_b(g, z) + j * g.b_cs;
    float acc = 0.0f;
    for (int64_t k = 0; k < g.k; ++k) acc += a[k * g.a_cs] * b[k * g.b_rs];
    g.c[(z * g.m + i) * g.n + j] = acc;
  }
}

// ---- v2: shared-memory tiles ----
// The same thread-to-output map as v1. K is walked in steps of 16: the block's 256 threads load
// the 16 x 16 tile of A (rows of this block, columns k0..k0+15) and of B (rows k0..k0+15,
// columns of this block), one element each, zero outside the matrices so the edges need no
// special case; after a barrier each thread sums its 16 products from shared memory; a second
// barrier keeps the next step's loads from overwriting tiles still being read.
// Bank conflicts: in the inner loop the threads of a warp read As[y][kk] (two addresses, both
// broadcasts) and Bs[kk][x] (16 consecutive words, 16 banks), so no padding is needed.
constexpr int kTile = 16;

__global__ void matmul_tiled_kernel(GemmArgs g) {
  MD_SHARED_2D(float, As, kTile, kTile);  // As[y][x] = A[i0 + y, k0 + x]
  MD_SHARED_2D(float, Bs, kTile, kTile);  // Bs[y][x] = B[k0 + y, j0 + x]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * kTile + ty;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kTile + tx;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const float* a = batch_a(g, z);
    const float* b = batch_b(g, z);
    float acc = 0.0f;
    for (int64_t k0 = 0; k0 < g.k; k0 += kTile) {
      As[ty][tx] = (i < g.m && k0 + tx < g.k) ? a[i * g.a_rs + (k0 + tx) * g.a_cs] : 0.0f;
      Bs[ty][tx] = (k0 + ty < g.k && j < g.n) ? b[(k0 + ty) * g.b_rs + j * g.b_cs] : 0.0f;
      __syncthreads();
      MD_UNROLL
      for (int kk = 0; kk < kTile; ++kk) acc += As[ty][kk] * Bs[kk][tx];
      __syncthreads();
    }
    if (i < g.m && j < g.n) g.c[(z * g.m + i) * g.n + j] = acc;
  }
}

// ---- v3: register blocking ----
// A block of 16 x 16 threads computes a 64 x 64 tile of C. Thread (x, y) owns the 4 x 4 outputs
// at rows i0 + y + 16 r and columns j0 + x + 16 c (r, c = 0..3), accumulated in registers.
// Spacing a thread's outputs 16 apart (instead of 4 adjacent ones) keeps the 16 threads of a
// row on 16 consecutive words at every step: conflict-free shared reads of Bs and coalesced
// writes of C.
// Per step of 8 along K the block stages As (64 x 8, stored transposed as [8][64 + 4]) and Bs
// (8 x 64), two elements per thread each. Then for each of the 8 k: every thread loads 4 values
// of A and 4 of B from shared memory into registers and does 16 multiply-adds.
// Loading A: element e = (row e / 8, k e % 8), so 8 consecutive threads read 8 consecutive k of
// one row of A (32 bytes, one memory sector when A is row-major). Storing it transposed puts
// As[k][row] at k * 68 + row: with the 4-word padding, the 32 threads of a warp (4 rows x 8 k)
// hit 32 different banks; without it, 8 of them would share one.
constexpr int kBM = 64, kBN = 64, kBK = 8;  // block tile
constexpr int kTM = 4, kTN = 4;             // thread tile
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256

__global__ void matmul_regblock_kernel(GemmArgs g) {
  MD_SHARED_2D(float, As, kBK, kBM + 4);  // As[kk][r] = A[i0 + r, k0 + kk]
  MD_SHARED_2D(float, Bs, kBK, kBN);      // Bs[kk][c] = B[k0 + kk, j0 + c]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * (kBN / kTN) + tx;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kBM;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kBN;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const float* a = batch_a(g, z);
    const float* b = batch_b(g, z);
    float acc[kTM][kTN] = {};
    for (int64_t k0 = 0; k0 < g.k; k0 += kBK) {
      for (int e = tid; e < kBM * kBK; e += kThreads) {
        const int r = e / kBK, kk = e % kBK;
        const int64_t i = i0 + r, k = k0 + kk;
        As[kk][r] = (i < g.m && k < g.k) ? a[i * g.a_rs + k * g.a_cs] : 0.0f;
      }
      for (int e = tid; e < kBK * kBN; e += kThreads) {
        const int kk = e / kBN, c = e % kBN;
        const int64_t k = k0 + kk, j = j0 + c;
        Bs[kk][c] = (k < g.k && j < g.n) ? b[k * g.b_rs + j * g.b_cs] : 0.0f;
      }
      __syncthreads();
      MD_UNROLL
      for (int kk = 0; kk < kBK; ++kk) {
        float af[kTM], bf[kTN];
        MD_UNROLL
        for (int r = 0; r < kTM; ++r) af[r] = As[kk][ty + 16 * r];
        MD_UNROLL
        for (int c = 0; c < kTN; ++c) bf[c] = Bs[kk][tx + 16 * c];
        MD_UNROLL
        for (int r = 0; r < kTM; ++r)
          MD_UNROLL
          for (int c = 0; c < kTN; ++c) acc[r][c] += af[r] * bf[c];
      }
      __syncthreads();
    }
    for (int r = 0; r < kTM; ++r)
      for (int c = 0; c < kTN; ++c) {
        const int64_t i = i0 + ty + 16 * r, j = j0 + tx + 16 * c;
        if (i < g.m && j < g.n) g.c[(z * g.m + i) * g.n + j] = acc[r][c];
      }
  }
}

// ---- staging tiles for v4 and v5 ----
// Both stage, per step along K, a BK x 128 tile of each operand in shared memory, k-major:
// S[kk][x] for x along M (A) or N (B). Seen this way the two operands are the same problem: the
// A tile is a block of A^T (element (k, i) = A[i, k], strides (a_cs, a_rs)), the B tile a block
// of B. A thread moves the tile in quads of four elements that are adjacent in memory when the
// matrix is (row or column) contiguous, so one 16-byte load fetches a quad:
//   along x   (column stride 1: row-major B, row-major A^T = column-major A)  quad (k, x..x+3)
//   along k   (row stride 1: column-major B, i.e. a transposed view; row-major A)  quad (k..k+3, x)
// Other strides fall back to four scalar loads along x. Elements outside the matrix are zero, so
// edge tiles need no special case in the multiply.
struct Operand {
  const float* p;      // element (k, x) at p[k * rs + x * cs]
  int64_t rs, cs;
  int64_t rows, cols;  // K, and M or N
  bool along_k;        // quads run along k (rs == 1), else along x
  bool vec;            // 16-byte loads allowed: quads contiguous and 16-byte aligned
};

__device__ __forceinline__ Operand operand_a(const GemmArgs& g, int64_t z, bool along_k, bool vec) {
  return Operand{batch_a(g, z), g.a_cs, g.a_rs, g.k, g.m, along_k, vec};
}
__device__ __forceinline__ Operand operand_b(const GemmArgs& g, int64_t z, bool along_k, bool vec) {
  return Operand{batch_b(g, z), g.b_rs, g.b_cs, g.k, g.n, along_k, vec};
}

// The quads of one BK x BX tile, held in registers between the global load and the shared store
// (which is what lets the load of tile t + 1 overlap the multiply of tile t). kTf32 rounds each
// element to TF32 once, on its way into shared memory, rather than at every fragment load.
template <int BK, int BX, int NT, bool kTf32>
struct TileStage {
  static_assert((BK * BX) % (4 * NT) == 0, "the tile divides into whole quads per thread");
  static constexpr int kQuads = BK * BX / (4 * NT);  // quads per thread
  float v[kQuads][4];

  // Quad e's first element: (kk, x) of the tile.
  __device__ __forceinline__ static void quad_origin(bool along_k, int e, int& kk, int& x) {
    if (along_k) {  // consecutive threads take consecutive k-quads of one x
      x = e / (BK / 4);
      kk = (e % (BK / 4)) * 4;
    } else {  // consecutive threads take consecutive x-quads of one k
      kk = e / (BX / 4);
      x = (e % (BX / 4)) * 4;
    }
  }

  __device__ __forceinline__ void load(const Operand& o, int64_t k0, int64_t x0, int tid) {
    MD_UNROLL
    for (int q = 0; q < kQuads; ++q) {
      int kk, x;
      quad_origin(o.along_k, tid + q * NT, kk, x);
      const int64_t k = k0 + kk, c = x0 + x;
      const int64_t step = o.along_k ? o.rs : o.cs;  // between the quad's elements
      const bool whole = o.along_k ? (k + 3 < o.rows && c < o.cols) : (k < o.rows && c + 3 < o.cols);
      if (o.vec && whole) {
        const float4 f = *reinterpret_cast<const float4*>(o.p + k * o.rs + c * o.cs);
        v[q][0] = f.x;
        v[q][1] = f.y;
        v[q][2] = f.z;
        v[q][3] = f.w;
      } else {
        MD_UNROLL
        for (int j = 0; j < 4; ++j) {
          const int64_t kj = o.along_k ? k + j : k, cj = o.along_k ? c : c + j;
          v[q][j] = (kj < o.rows && cj < o.cols) ? o.p[k * o.rs + c * o.cs + j * step] : 0.0f;
        }
      }
    }
  }

  // Into rows buf * BK .. buf * BK + BK - 1 of a shared tile with row length ld.
  __device__ __forceinline__ void store(SharedPtr<float> s, int ld, int buf, bool along_k,
                                        int tid) const {
    MD_UNROLL
    for (int q = 0; q < kQuads; ++q) {
      int kk, x;
      quad_origin(along_k, tid + q * NT, kk, x);
      MD_UNROLL
      for (int j = 0; j < 4; ++j) {
        const int row = buf * BK + kk + (along_k ? j : 0), col = x + (along_k ? 0 : j);
        s[row * ld + col] = kTf32 ? round_to_tf32(v[q][j]) : v[q][j];
      }
    }
  }
};

// ---- v4: 128 x 128 tiles, vector loads, double-buffered shared memory ----
// 256 threads as 16 x 16; thread (x, y) owns the 8 x 8 outputs at rows i0 + {0, 64} + 4 y + r and
// columns j0 + {0, 64} + 4 x + c (r, c = 0..3): per k it reads two runs of 4 from As and two from
// Bs, each run 16 bytes that nvcc loads with one instruction (the 16 threads of a half-warp read
// 16 consecutive runs of Bs, and a row of As is one broadcast), then does 64 multiply-adds.
// Pipeline, one barrier per step along K: the loads of tile t + 1 are issued into registers, tile
// t is multiplied from buffer t % 2, the registers go to buffer (t + 1) % 2 (last read in step
// t - 1, before the previous barrier), barrier.
// Asynchronous copies (cp.async, sm_80+) would skip the registers; they are not used because the
// emulator does not model them, and the register stage gives the same overlap of load and math.
constexpr int kV4B = 128, kV4BK = 8, kV4Threads = 256;

__global__ void __launch_bounds__(kV4Threads)
matmul_pipelined_kernel(GemmArgs g, bool a_along_k, bool a_vec, bool b_along_k, bool b_vec,
                        bool c_vec) {
  MD_SHARED(float, As, 2 * kV4BK * kV4B);  // As[(buf * BK + kk) * 128 + r] = A[i0 + r, k]
  MD_SHARED(float, Bs, 2 * kV4BK * kV4B);  // Bs[(buf * BK + kk) * 128 + c] = B[k, j0 + c]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kV4B;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kV4B;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const Operand a = operand_a(g, z, a_along_k, a_vec), b = operand_b(g, z, b_along_k, b_vec);
    TileStage<kV4BK, kV4B, kV4Threads, false> sa, sb;
    sa.load(a, 0, i0, tid);
    sb.load(b, 0, j0, tid);
    sa.store(As, kV4B, 0, a_along_k, tid);
    sb.store(Bs, kV4B, 0, b_along_k, tid);
    __syncthreads();
    float acc[8][8] = {};
    int buf = 0;
    for (int64_t k0 = 0; k0 < g.k; k0 += kV4BK) {
      const bool more = k0 + kV4BK < g.k;
      if (more) {
        sa.load(a, k0 + kV4BK, i0, tid);
        sb.load(b, k0 + kV4BK, j0, tid);
      }
      MD_UNROLL
      for (int kk = 0; kk < kV4BK; ++kk) {
        const int row = (buf * kV4BK + kk) * kV4B;
        const float4 a0 = load_shared4(As, row + 4 * ty), a1 = load_shared4(As, row + 64 + 4 * ty);
        const float4 b0 = load_shared4(Bs, row + 4 * tx), b1 = load_shared4(Bs, row + 64 + 4 * tx);
        const float af[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float bf[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
        MD_UNROLL
        for (int r = 0; r < 8; ++r)
          MD_UNROLL
          for (int c = 0; c < 8; ++c) acc[r][c] += af[r] * bf[c];
      }
      if (more) {
        sa.store(As, kV4B, buf ^ 1, a_along_k, tid);
        sb.store(Bs, kV4B, buf ^ 1, b_along_k, tid);
      }
      __syncthreads();
      buf ^= 1;
    }
    // Output row r of the thread: i0 + 64 (r / 4) + 4 y + r % 4; column c likewise with x.
    float* cz = g.c + z * g.m * g.n;
    for (int r = 0; r < 8; ++r) {
      const int64_t i = i0 + 64 * (r / 4) + 4 * ty + r % 4;
      if (i >= g.m) continue;
      for (int h = 0; h < 2; ++h) {
        const int64_t j = j0 + 64 * h + 4 * tx;
        if (c_vec && j + 3 < g.n) {
          *reinterpret_cast<float4*>(cz + i * g.n + j) =
              float4{acc[r][4 * h], acc[r][4 * h + 1], acc[r][4 * h + 2], acc[r][4 * h + 3]};
        } else {
          for (int c = 0; c < 4; ++c)
            if (j + c < g.n) cz[i * g.n + j + c] = acc[r][4 * h + c];
        }
      }
    }
  }
}

// ---- v5: TF32 tensor cores ----
// v4's 128 x 128 block tile and pipeline with BK = 16 (two instructions deep). The 8 warps of
// the block tile it 2 x 4: warp (wm, wn) computes the 64 x 32 outputs at rows i0 + 64 wm, columns
// j0 + 32 wn, as 4 x 4 instruction tiles of 16 x 8 (64 accumulators per lane). Per k8 step a lane
// loads its A fragments for the 4 row tiles and B fragments for the 4 column tiles (24 shared
// loads) and issues 16 mma instructions (16 x 8 x 8 multiply-adds each).
// Fragment loads and banks: lane (g, t) reads As[k + t (+4)][m + g (+8)] and Bs[k + t (+4)][n + g]
// (cuda/mma.h). With rows padded from 128 to 136 floats (136 = 8 mod 32 banks), the 32 lanes hit
// bank 8 t + g: all different, no conflicts.
constexpr int kV5BK = 16, kV5Ld = kV4B + 8;

__global__ void __launch_bounds__(kV4Threads)
matmul_tf32_kernel(GemmArgs g, bool a_along_k, bool a_vec, bool b_along_k, bool b_vec) {
  MD_SHARED(float, As, 2 * kV5BK * kV5Ld);  // As[(buf * BK + kk) * 136 + r] = tf32(A[i0 + r, k])
  MD_SHARED(float, Bs, 2 * kV5BK * kV5Ld);  // Bs[(buf * BK + kk) * 136 + c] = tf32(B[k, j0 + c])
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / 4, wn = warp % 4;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kV4B;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kV4B;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const Operand a = operand_a(g, z, a_along_k, a_vec), b = operand_b(g, z, b_along_k, b_vec);
    TileStage<kV5BK, kV4B, kV4Threads, true> sa, sb;
    sa.load(a, 0, i0, tid);
    sb.load(b, 0, j0, tid);
    sa.store(As, kV5Ld, 0, a_along_k, tid);
    sb.store(Bs, kV5Ld, 0, b_along_k, tid);
    __syncthreads();
    float acc[4][4][4] = {};  // [row tile][column tile][fragment element]
    int buf = 0;
    for (int64_t k0 = 0; k0 < g.k; k0 += kV5BK) {
      const bool more = k0 + kV5BK < g.k;
      if (more) {
        sa.load(a, k0 + kV5BK, i0, tid);
        sb.load(b, k0 + kV5BK, j0, tid);
      }
      MD_UNROLL
      for (int ks = 0; ks < kV5BK; ks += kMmaK) {
        const int kbase = buf * kV5BK + ks;
        float af[4][4], bf[4][2];
        MD_UNROLL
        for (int mi = 0; mi < 4; ++mi)
          MD_UNROLL
          for (int r = 0; r < 4; ++r)
            af[mi][r] = As[(kbase + mma_a_col(lane, r)) * kV5Ld + 64 * wm + 16 * mi + mma_a_row(lane, r)];
        MD_UNROLL
        for (int ni = 0; ni < 4; ++ni)
          MD_UNROLL
          for (int r = 0; r < 2; ++r)
            bf[ni][r] = Bs[(kbase + mma_b_row(lane, r)) * kV5Ld + 32 * wn + 8 * ni + mma_b_col(lane)];
        MD_UNROLL
        for (int mi = 0; mi < 4; ++mi)
          MD_UNROLL
          for (int ni = 0; ni < 4; ++ni) mma_m16n8k8_tf32(acc[mi][ni], af[mi], bf[ni], acc[mi][ni]);
      }
      if (more) {
        sa.store(As, kV5Ld, buf ^ 1, a_along_k, tid);
        sb.store(Bs, kV5Ld, buf ^ 1, b_along_k, tid);
      }
      __syncthreads();
      buf ^= 1;
    }
    float* cz = g.c + z * g.m * g.n;
    for (int mi = 0; mi < 4; ++mi)
      for (int ni = 0; ni < 4; ++ni)
        for (int r = 0; r < 4; ++r) {
          const int64_t i = i0 + 64 * wm + 16 * mi + mma_c_row(lane, r);
          const int64_t j = j0 + 32 * wn + 8 * ni + mma_c_col(lane, r);
          if (i < g.m && j < g.n) cz[i * g.n + j] = acc[mi][ni][r];
        }
  }
}

unsigned grid_extent(int64_t n, int64_t per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace

MatmulKernel default_matmul_kernel() {
  return cuda_precision() == Precision::TF32 ? MatmulKernel::TensorCoreTF32
                                             : MatmulKernel::RegisterBlocked;
}

Tensor matmul_cuda(const Tensor& a, const Tensor& b, const Shape& out_shape, MatmulKernel kernel) {
  Tensor out = empty(out_shape, Device::CUDA);
  const int na = a.ndim(), nbd = b.ndim(), no = out_shape.ndim();
  GemmArgs g{};
  g.a = a.data();
  g.a_rs = a.strides()[na - 2];
  g.a_cs = a.strides()[na - 1];
  g.b = b.data();
  g.b_rs = b.strides()[nbd - 2];
  g.b_cs = b.strides()[nbd - 1];
  g.c = out.data();
  g.m = out_shape[no - 2];
  g.n = out_shape[no - 1];
  g.k = a.shape()[na - 1];
  // Batch strides against the output's batch axes (at most two, right-aligned; 0 = broadcast).
  int64_t a_bs[2] = {0, 0}, b_bs[2] = {0, 0};
  const int ob = no - 2;
  for (int i = 0; i < na - 2; ++i)
    if (a.shape()[i] != 1) a_bs[2 - (na - 2) + i] = a.strides()[i];
  for (int i = 0; i < nbd - 2; ++i)
    if (b.shape()[i] != 1) b_bs[2 - (nbd - 2) + i] = b.strides()[i];
  g.a_bs0 = a_bs[0];
  g.a_bs1 = a_bs[1];
  g.b_bs0 = b_bs[0];
  g.b_bs1 = b_bs[1];
  g.nb1 = ob >= 1 ? out_shape[no - 3] : 1;
  g.batch = out.numel() == 0 ? 0 : out.numel() / (g.m * g.n);
  if (out.numel() == 0) return out;
  if (g.k == 0) {  // an empty sum
    out.fill_(0.0f);
    return out;
  }
  MD_CHECK(grid_extent(g.m, kNaiveBlock) <= 65535, "matmul: ", g.m,
           " rows exceed the CUDA kernels' grid (at most ", 65535 * kNaiveBlock, ")");
  const unsigned gz = static_cast<unsigned>(g.batch < 65535 ? g.batch : 65535);
  switch (kernel) {
    case MatmulKernel::Naive:
      MD_LAUNCH(matmul_naive_kernel, dim3(grid_extent(g.n, kNaiveBlock), grid_extent(g.m, kNaiveBlock), gz),
                dim3(kNaiveBlock, kNaiveBlock), 0, g);
      break;
    case MatmulKernel::Tiled:
      MD_LAUNCH(matmul_tiled_kernel, dim3(grid_extent(g.n, kTile), grid_extent(g.m, kTile), gz),
                dim3(kTile, kTile), 0, g);
      break;
    case MatmulKernel::RegisterBlocked:
      MD_LAUNCH(matmul_regblock_kernel, dim3(grid_extent(g.n, kBN), grid_extent(g.m, kBM), gz),
                dim3(kBN / kTN, kBM / kTM), 0, g);
      break;
    case MatmulKernel::Pipelined:
    case MatmulKernel::TensorCoreTF32: {
      // How each operand's quads run (see Operand), and whether they may be one 16-byte load:
      // stride 1 along the quad, every other stride (and so every quad's start) a multiple of 4,
      // and a 16-byte-aligned base.
      auto aligned = [](const float* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
      auto quads4 = [](int64_t s0, int64_t s1, int64_t s2) {
        return s0 % 4 == 0 && s1 % 4 == 0 && s2 % 4 == 0;
      };
      // A^T has row stride a_cs and column stride a_rs; B has b_rs and b_cs.
      const bool a_along_k = g.a_cs == 1 && g.a_rs != 1;
      const bool a_vec = aligned(g.a) && (a_along_k ? quads4(g.a_rs, g.a_bs0, g.a_bs1)
                                                    : g.a_rs == 1 && quads4(g.a_cs, g.a_bs0, g.a_bs1));
      const bool b_along_k = g.b_rs == 1 && g.b_cs != 1;
      const bool b_vec = aligned(g.b) && (b_along_k ? quads4(g.b_cs, g.b_bs0, g.b_bs1)
                                                    : g.b_cs == 1 && quads4(g.b_rs, g.b_bs0, g.b_bs1));
      const dim3 grid(grid_extent(g.n, kV4B), grid_extent(g.m, kV4B), gz);
      if (kernel == MatmulKernel::Pipelined)
        MD_LAUNCH(matmul_pipelined_kernel, grid, dim3(16, 16), 0, g, a_along_k, a_vec, b_along_k,
                  b_vec, aligned(g.c) && g.n % 4 == 0);
      else
        MD_LAUNCH(matmul_tf32_kernel, grid, dim3(kV4Threads), 0, g, a_along_k, a_vec, b_along_k, b_vec);
      break;
    }
  }
  return out;
}

}  // namespace mindiff
