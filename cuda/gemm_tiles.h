// The two fast rungs of the matmul ladder (cuda/matmul.cu) as kernels over operands: v4, FP32
// with 128 x 128 tiles, and v5, the same tiles on TF32 tensor cores. A matrix product passes
// strided matrices; convolutions (cuda/conv2d.cu) pass operands that gather each element from
// the image or the output gradient where it lies, so that the im2col matrix is never written
// (implicit GEMM). Included by those two .cu files only.
#pragma once
#include <cstdint>

#include "cuda/kernel.h"
#include "cuda/mma.h"
#include "tensor/error.h"

namespace mindiff::cuda::tiles {

// ---- staging tiles ----
// Both stage, per step along K, a BK x 128 tile of each operand in shared memory, k-major:
// S[kk][x] for x along M (A) or N (B). Seen this way the two operands are the same problem: the
// A tile is a block of A^T (element (k, i) = A[i, k], strides (a_cs, a_rs)), the B tile a block
// of B. A thread moves the tile in quads of four elements that are adjacent in memory when the
// matrix is (row or column) contiguous, so one 16-byte load fetches a quad:
//   along x   (column stride 1: row-major B, row-major A^T = column-major A)  quad (k, x..x+3)
//   along k   (row stride 1: column-major B, i.e. a transposed view; row-major A)  quad (k..k+3, x)
// Other strides fall back to four scalar loads along x. Elements outside the matrix are zero, so
// edge tiles need no special case in the multiply.
//
// An operand is any type with
//   Op bound(int64_t z) const                      the operand of batch item z
//   bool along_k                                   which way its quads run
//   void quad(int64_t k, int64_t x, float (&v)[4]) const   the quad at (k, x), zeros outside
// StridedOperand is a matrix in memory (matmul); cuda/conv2d.cu gathers convolution windows.
struct StridedOperand {
  const float* p;      // element (k, x) of batch item z at p[z0 * bs0 + z1 * bs1 + k * rs + x * cs],
  int64_t rs, cs;      // z = z0 * nb1 + z1
  int64_t rows, cols;  // K, and M or N
  int64_t bs0, bs1, nb1;
  bool along_k;        // quads run along k (rs == 1), else along x
  bool vec;            // 16-byte loads allowed: quads contiguous and 16-byte aligned

  __device__ __forceinline__ StridedOperand bound(int64_t z) const {
    StridedOperand o = *this;
    o.p += (z / nb1) * bs0 + (z % nb1) * bs1;
    return o;
  }

  __device__ __forceinline__ void quad(int64_t k, int64_t c, float (&v)[4]) const {
    const int64_t step = along_k ? rs : cs;  // between the quad's elements
    const bool whole = along_k ? (k + 3 < rows && c < cols) : (k < rows && c + 3 < cols);
    if (vec && whole) {
      const float4 f = *reinterpret_cast<const float4*>(p + k * rs + c * cs);
      v[0] = f.x;
      v[1] = f.y;
      v[2] = f.z;
      v[3] = f.w;
    } else {
      MD_UNROLL
      for (int j = 0; j < 4; ++j) {
        const int64_t kj = along_k ? k + j : k, cj = along_k ? c : c + j;
        v[j] = (kj < rows && cj < cols) ? p[k * rs + c * cs + j * step] : 0.0f;
      }
    }
  }
};

// A matrix with strides (rs, cs) and batch strides (bs0, bs1) over an inner batch extent nb1,
// with its quads laid the best way it allows (host side: decides once per launch).
inline StridedOperand strided_operand(const float* p, int64_t rs, int64_t cs, int64_t rows,
                                      int64_t cols, int64_t bs0, int64_t bs1, int64_t nb1) {
  const bool aligned = reinterpret_cast<uintptr_t>(p) % 16 == 0;
  auto multiples_of_4 = [](int64_t a, int64_t b, int64_t c) { return a % 4 == 0 && b % 4 == 0 && c % 4 == 0; };
  const bool along_k = rs == 1 && cs != 1;
  const bool vec = aligned && (along_k ? multiples_of_4(cs, bs0, bs1)
                                       : cs == 1 && multiples_of_4(rs, bs0, bs1));
  return StridedOperand{p, rs, cs, rows, cols, bs0, bs1, nb1, along_k, vec};
}

// Where the products go: C [batch, M, N], contiguous, and the sizes of the product.
struct TileGemmOut {
  float* c;
  int64_t m, n, k, batch;
  bool vec;  // 16-byte stores allowed (c aligned, N a multiple of 4)
};

inline TileGemmOut tile_gemm_out(float* c, int64_t m, int64_t n, int64_t k, int64_t batch) {
  return {c, m, n, k, batch, reinterpret_cast<uintptr_t>(c) % 16 == 0 && n % 4 == 0};
}

// The quads of one BK x BX tile, held in registers between the global load and the shared store
// (which is what lets the load of tile t + 1 overlap the multiply of tile t), for a shared tile
// with rows of LD floats. kTf32 rounds each element to TF32 once, on its way into shared memory,
// rather than at every fragment load.
//
// The stores avoid bank conflicts (the bank model of cuda/emu/traffic.h, which counts them):
//   along x  a warp's 32 quads are one row's 128 consecutive floats: a 16-byte store per lane,
//            4 wavefronts, the least 512 bytes can take.
//   along k  a warp holds 32 / G consecutive x in each of the G = BK / 4 quad origins kk = 4 g
//            (G divides 4). With LD = 32 / G (mod 32), row 4 g + j starts at bank
//            (32 / G) (j mod G), whatever g: if every lane stored element j at step j, the G
//            groups would hit the same banks (a G-way conflict). So lane group g stores element
//            j = (step + g) mod 4 at each step, and the groups start at G different banks.
template <int BK, int BX, int NT, int LD, bool kTf32>
struct TileStage {
  static_assert((BK * BX) % (4 * NT) == 0, "the tile divides into whole quads per thread");
  static_assert(BK % 4 == 0 && 4 % (BK / 4) == 0 && LD % 32 == 32 / (BK / 4) % 32 && LD >= BX &&
                    LD % 4 == 0,
                "rows of LD = 32 / G (mod 32) floats, G = BK / 4 dividing 4, keep the stores conflict-free");
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

  template <class Op>
  __device__ __forceinline__ void load(const Op& o, int64_t k0, int64_t x0, int tid) {
    MD_UNROLL
    for (int q = 0; q < kQuads; ++q) {
      int kk, x;
      quad_origin(o.along_k, tid + q * NT, kk, x);
      o.quad(k0 + kk, x0 + x, v[q]);
    }
  }

  __device__ __forceinline__ static float shared_value(float f) { return kTf32 ? round_to_tf32(f) : f; }
  // v[j] for a j known only at run time, without indexing a register array (which would put it
  // in local memory).
  __device__ __forceinline__ static float pick(const float (&v)[4], int j) {
    return j == 0 ? v[0] : j == 1 ? v[1] : j == 2 ? v[2] : v[3];
  }

  // Into rows buf * BK .. buf * BK + BK - 1 of a shared tile.
  __device__ __forceinline__ void store(SharedPtr<float> s, int buf, bool along_k, int tid) const {
    MD_UNROLL
    for (int q = 0; q < kQuads; ++q) {
      int kk, x;
      quad_origin(along_k, tid + q * NT, kk, x);
      const int row = buf * BK + kk;
      if (!along_k) {
        store_shared4(s, row * LD + x,
                      float4{shared_value(v[q][0]), shared_value(v[q][1]), shared_value(v[q][2]),
                             shared_value(v[q][3])});
        continue;
      }
      MD_UNROLL
      for (int step = 0; step < 4; ++step) {
        const int j = (step + kk / 4) % 4;
        s[(row + j) * LD + x] = shared_value(pick(v[q], j));
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
// Shared rows are padded from 128 to 144 floats for the along-k stores (TileStage); the loads,
// four 16-byte runs of one row per k, are conflict-free at any row length.
constexpr int kV4B = 128, kV4BK = 8, kV4Ld = kV4B + 16, kV4Threads = 256;

// A is given as A^T (element (k, i)), B as itself (element (k, j)).
template <class OpA, class OpB>
__global__ void __launch_bounds__(kV4Threads) tile_gemm_fp32_kernel(OpA at, OpB bt, TileGemmOut g) {
  MD_SHARED(float, As, 2 * kV4BK * kV4Ld);  // As[(buf * BK + kk) * 144 + r] = A[i0 + r, k]
  MD_SHARED(float, Bs, 2 * kV4BK * kV4Ld);  // Bs[(buf * BK + kk) * 144 + c] = B[k, j0 + c]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kV4B;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kV4B;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const OpA a = at.bound(z);
    const OpB b = bt.bound(z);
    TileStage<kV4BK, kV4B, kV4Threads, kV4Ld, false> sa, sb;
    sa.load(a, 0, i0, tid);
    sb.load(b, 0, j0, tid);
    sa.store(As, 0, a.along_k, tid);
    sb.store(Bs, 0, b.along_k, tid);
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
        const int row = (buf * kV4BK + kk) * kV4Ld;
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
        sa.store(As, buf ^ 1, a.along_k, tid);
        sb.store(Bs, buf ^ 1, b.along_k, tid);
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
        if (g.vec && j + 3 < g.n) {
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

template <class OpA, class OpB>
__global__ void __launch_bounds__(kV4Threads) tile_gemm_tf32_kernel(OpA at, OpB bt, TileGemmOut g) {
  MD_SHARED(float, As, 2 * kV5BK * kV5Ld);  // As[(buf * BK + kk) * 136 + r] = tf32(A[i0 + r, k])
  MD_SHARED(float, Bs, 2 * kV5BK * kV5Ld);  // Bs[(buf * BK + kk) * 136 + c] = tf32(B[k, j0 + c])
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / 4, wn = warp % 4;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kV4B;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kV4B;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const OpA a = at.bound(z);
    const OpB b = bt.bound(z);
    TileStage<kV5BK, kV4B, kV4Threads, kV5Ld, true> sa, sb;
    sa.load(a, 0, i0, tid);
    sb.load(b, 0, j0, tid);
    sa.store(As, 0, a.along_k, tid);
    sb.store(Bs, 0, b.along_k, tid);
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
        sa.store(As, buf ^ 1, a.along_k, tid);
        sb.store(Bs, buf ^ 1, b.along_k, tid);
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

inline unsigned tile_grid_extent(int64_t n) { return static_cast<unsigned>((n + kV4B - 1) / kV4B); }

// C = A B for every batch item, with the FP32 (v4) or the TF32 (v5) tile kernel. `name` names
// the launch in errors.
template <class OpA, class OpB>
void launch_tile_gemm(const char* name, bool tf32, const OpA& at, const OpB& bt, const TileGemmOut& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  MD_CHECK(tile_grid_extent(g.m) <= 65535, name, ": ", g.m, " rows exceed the grid (at most ",
           65535 * kV4B, ")");
  const dim3 grid(tile_grid_extent(g.n), tile_grid_extent(g.m),
                  static_cast<unsigned>(g.batch < 65535 ? g.batch : 65535));
  if (tf32)
    cuda::launch(name, &tile_gemm_tf32_kernel<OpA, OpB>, grid, dim3(kV4Threads), 0, at, bt, g);
  else
    cuda::launch(name, &tile_gemm_fp32_kernel<OpA, OpB>, grid, dim3(16, 16), 0, at, bt, g);
}

}  // namespace mindiff::cuda::tiles
