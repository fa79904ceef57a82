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
// v4 and v5 live in cuda/gemm_tiles.h, as kernels over operands, because conv2d runs on them too.
#include "cuda/matmul.h"

#include "cuda/gemm_tiles.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"
#include "tensor/precision.h"

namespace mindiff {

namespace {

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
      // A enters as A^T: element (k, i) at a + k a_cs + i a_rs.
      const auto at = cuda::tiles::strided_operand(g.a, g.a_cs, g.a_rs, g.k, g.m, g.a_bs0, g.a_bs1, g.nb1);
      const auto bt = cuda::tiles::strided_operand(g.b, g.b_rs, g.b_cs, g.k, g.n, g.b_bs0, g.b_bs1, g.nb1);
      cuda::tiles::launch_tile_gemm(kernel == MatmulKernel::Pipelined ? "matmul_v4" : "matmul_v5",
                                    kernel == MatmulKernel::TensorCoreTF32, at, bt,
                                    cuda::tiles::tile_gemm_out(g.c, g.m, g.n, g.k, g.batch));
      break;
    }
  }
  return out;
}

}  // namespace mindiff
