// The CUDA emulator itself (cuda/emu/): built-in indices, shared memory with barriers, warp
// shuffles and votes, atomics, dynamic shared memory, and the errors that make kernel bugs
// visible: shared-memory races (a missing __syncthreads()), reads of unwritten shared memory,
// barriers not reached by every thread, bad launch configurations. The kernels here are test
// kernels, compiled by g++ into the emulator in every build.
#include <numeric>
#include <vector>

#include "cuda/kernel.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using cuda::SharedPtr;
using test::expect_error;

constexpr int kThreads = 128;

// ---- kernels ----

// out[linear thread id over the grid] = a code of (blockIdx, threadIdx) in a 3-D grid.
__global__ void index_kernel(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] =
      1000000 * blockIdx.z + 100000 * blockIdx.y + 10000 * blockIdx.x + 100 * threadIdx.z +
      10 * threadIdx.y + threadIdx.x;
}

// The classic shared-memory tree reduction: out[block] = sum of the block's kThreads inputs.
// Each step halves the active threads; the barrier makes step s's writes visible to step s+1.
template <bool kMissingBarrier>
__global__ void block_sum_kernel(const float* x, int n, float* out) {
  MD_SHARED(float, partial, kThreads);
  const int t = threadIdx.x, i = blockIdx.x * kThreads + t;
  partial[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) partial[t] += partial[t + s];
    if (!kMissingBarrier) __syncthreads();  // the bug: step s+1 reads what step s writes
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// The tiled loop with the second barrier missing: a tile is overwritten while other threads may
// still read the previous one (a write-after-read race). out[t] = sum over tiles of tile[k - t].
template <bool kMissingBarrier>
__global__ void tile_loop_kernel(const float* x, int tiles, float* out) {
  MD_SHARED(float, tile, kThreads);
  const int t = threadIdx.x;
  float acc = 0.0f;
  for (int k = 0; k < tiles; ++k) {
    tile[t] = x[k * kThreads + t];
    __syncthreads();
    acc += tile[kThreads - 1 - t];
    if (!kMissingBarrier) __syncthreads();
  }
  out[t] = acc;
}

// Reads an element nobody wrote.
__global__ void uninitialised_kernel(float* out) {
  MD_SHARED(float, buf, kThreads);
  if (threadIdx.x > 0) buf[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = buf[0];
}

// Some threads return before a barrier the others wait at.
__global__ void early_return_kernel(const float* x, int n, float* out) {
  MD_SHARED(float, buf, kThreads);
  const int t = threadIdx.x;
  if (t >= n) return;
  buf[t] = x[t];
  __syncthreads();
  out[t] = buf[(t + 1) % n];
}

// Warp reduction with __shfl_down_sync: lane 0 ends with the warp's sum.
__device__ float warp_sum_down(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// The butterfly with __shfl_xor_sync: every lane ends with the sum.
__device__ float warp_sum_xor(float v) {
  for (int mask = 16; mask > 0; mask /= 2) v += __shfl_xor_sync(0xffffffffu, v, mask);
  return v;
}

// out[4 * t + 0..3] = down-sum at lane 0 (else own partial), xor-sum, lane 5's value, inclusive
// prefix sum within segments of 8 (Hillis-Steele scan with __shfl_up_sync, width 8).
__global__ void shuffle_kernel(const float* x, float* out) {
  const int t = threadIdx.x, lane = t % 32;
  const float v = x[t];
  const float down = warp_sum_down(v);
  const float all = warp_sum_xor(v);
  const float fifth = __shfl_sync(0xffffffffu, v, 5);
  float scan = v;
  for (int d = 1; d < 8; d *= 2) {
    const float up = __shfl_up_sync(0xffffffffu, scan, d, 8);
    if (lane % 8 >= d) scan += up;
  }
  out[4 * t + 0] = lane == 0 ? down : 0.0f;
  out[4 * t + 1] = all;
  out[4 * t + 2] = fifth;
  out[4 * t + 3] = scan;
}

// Votes: bit l of the ballot is set for odd lanes; any/all of x > 0.
__global__ void vote_kernel(const float* x, unsigned* ballot, int* any_all) {
  const int t = threadIdx.x;
  const unsigned b = __ballot_sync(0xffffffffu, t % 2);
  const int any = __any_sync(0xffffffffu, x[t] > 0.0f);
  const int all = __all_sync(0xffffffffu, x[t] > 0.0f);
  if (t % 32 == 0) {
    ballot[t / 32] = b;
    any_all[2 * (t / 32)] = any;
    any_all[2 * (t / 32) + 1] = all;
  }
}

// A block sum that uses both: warp sums by shuffles, then one value per warp through shared
// memory (the pattern of the library's reduction kernels).
__global__ void two_level_sum_kernel(const float* x, float* out) {
  MD_SHARED(float, warp_partial, 32);
  const int t = threadIdx.x, lane = t % 32, warp = t / 32, warps = blockDim.x / 32;
  const float s = warp_sum_down(x[blockIdx.x * blockDim.x + t]);
  if (lane == 0) warp_partial[warp] = s;
  __syncthreads();
  if (warp == 0) {
    float v = lane < warps ? static_cast<float>(warp_partial[lane]) : 0.0f;
    v = warp_sum_down(v);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

// Lane 3 reads the shared value lane 0 wrote, ordered by __syncwarp() (no __syncthreads()).
__global__ void syncwarp_kernel(float* out) {
  MD_SHARED(float, slot, 1);
  if (threadIdx.x == 0) slot[0] = 42.0f;
  __syncwarp();
  if (threadIdx.x == 3) out[0] = slot[0];
}

// A shuffle that reads a lane outside its mask.
__global__ void bad_shuffle_kernel(float* out) {
  const int t = threadIdx.x;
  if (t < 16) out[t] = __shfl_sync(0x0000ffffu, 1.0f * t, 20);
}

__global__ void atomic_kernel(float* fsum, int* icount, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(fsum, x[i]);
    atomicAdd(icount, 1);
  }
}

// Reverses each block's chunk through dynamic shared memory (size given at launch).
__global__ void reverse_kernel(const float* x, float* out) {
  MD_SHARED_DYNAMIC(float, buf);
  const int t = threadIdx.x, n = blockDim.x, base = blockIdx.x * n;
  buf[t] = x[base + t];
  __syncthreads();
  out[base + t] = buf[n - 1 - t];
}

// A 2-D shared tile: the transpose of a 16 x 16 block, read across rows (padding column 17
// avoids bank conflicts on a GPU; here it just exercises the 2-D declaration).
__global__ void transpose_kernel(const float* x, float* out) {
  MD_SHARED_2D(float, tile, 16, 17);
  const int r = threadIdx.y, c = threadIdx.x;
  tile[r][c] = x[r * 16 + c];
  __syncthreads();
  out[r * 16 + c] = tile[c][r];
}

// Out of bounds in shared memory.
__global__ void bounds_kernel(float* out) {
  MD_SHARED(float, buf, 8);
  buf[threadIdx.x] = 1.0f;  // 16 threads
  __syncthreads();
  out[threadIdx.x] = buf[threadIdx.x];
}

// ---- helpers ----

std::vector<float> iota_floats(int n, float start = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i] = start + static_cast<float>(i % 7) - 0.5f * (i % 3);
  return v;
}

// ---- tests ----

TEST(CudaEmu, BuiltinIndicesIn3D) {
  const dim3 grid(2, 3, 2), block(4, 2, 3);
  std::vector<int> out(2 * 3 * 2 * 24, -1);
  MD_LAUNCH(index_kernel, grid, block, 0, out.data());
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 3; ++by)
      for (unsigned bx = 0; bx < 2; ++bx)
        for (unsigned tz = 0; tz < 3; ++tz)
          for (unsigned ty = 0; ty < 2; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx) {
              const int blk = bx + 2 * (by + 3 * bz), thr = tx + 4 * (ty + 2 * tz);
              EXPECT_EQ(out[blk * 24 + thr], static_cast<int>(1000000 * bz + 100000 * by +
                                                              10000 * bx + 100 * tz + 10 * ty + tx));
            }
}

TEST(CudaEmu, SharedMemoryBlockReduction) {
  const int n = 3 * kThreads + 37;  // the last block is partly padding
  std::vector<float> x = iota_floats(n);
  const int blocks = (n + kThreads - 1) / kThreads;
  std::vector<float> out(blocks);
  MD_LAUNCH(block_sum_kernel<false>, blocks, kThreads, 0, x.data(), n, out.data());
  for (int b = 0; b < blocks; ++b) {
    double want = 0.0;
    for (int i = b * kThreads; i < std::min(n, (b + 1) * kThreads); ++i) want += x[i];
    EXPECT_NEAR(out[b], want, 1e-3) << "block " << b;
  }
}

TEST(CudaEmu, MissingBarrierIsCaughtEveryTime) {
  const int n = 2 * kThreads;
  std::vector<float> x = iota_floats(n), out(2);
  for (int run = 0; run < 3; ++run)
    expect_error([&] { MD_LAUNCH(block_sum_kernel<true>, 2, kThreads, 0, x.data(), n, out.data()); },
                 {"kernel 'block_sum_kernel<true>'", "block (0, 0, 0)", "shared-memory race on partial[",
                  "missing __syncthreads()"});
}

TEST(CudaEmu, WriteAfterReadRaceIsCaught) {
  const int tiles = 3;
  std::vector<float> x = iota_floats(tiles * kThreads), out(kThreads);
  MD_LAUNCH(tile_loop_kernel<false>, 1, kThreads, 0, x.data(), tiles, out.data());
  for (int t = 0; t < kThreads; ++t) {
    float want = 0.0f;
    for (int k = 0; k < tiles; ++k) want += x[k * kThreads + kThreads - 1 - t];
    EXPECT_FLOAT_EQ(out[t], want);
  }
  expect_error([&] { MD_LAUNCH(tile_loop_kernel<true>, 1, kThreads, 0, x.data(), tiles, out.data()); },
               {"tile_loop_kernel<true>", "race on tile[", "writes it", "reads it"});
}

TEST(CudaEmu, UnwrittenSharedMemoryAndDivergentBarriersAreErrors) {
  std::vector<float> out(kThreads), x = iota_floats(kThreads);
  expect_error([&] { MD_LAUNCH(uninitialised_kernel, 1, kThreads, 0, out.data()); },
               {"uninitialised_kernel", "reads buf[0]", "no thread of the block has written"});
  expect_error([&] { MD_LAUNCH(early_return_kernel, 1, kThreads, 0, x.data(), 100, out.data()); },
               {"early_return_kernel", "__syncthreads()", "returned"});
  // With every thread in range the same kernel is correct.
  MD_LAUNCH(early_return_kernel, 1, kThreads, 0, x.data(), kThreads, out.data());
  EXPECT_EQ(out[5], x[6]);
  std::vector<float> small(16);
  expect_error([&] { MD_LAUNCH(bounds_kernel, 1, 16, 0, small.data()); },
               {"bounds_kernel", "'buf'", "flat index 8", "outside its 8 elements"});
}

TEST(CudaEmu, WarpShufflesAndVotes) {
  const int n = 64;  // two warps
  std::vector<float> x = iota_floats(n), out(4 * n);
  MD_LAUNCH(shuffle_kernel, 1, n, 0, x.data(), out.data());
  for (int w = 0; w < 2; ++w) {
    float sum = 0.0f;
    for (int l = 0; l < 32; ++l) sum += x[w * 32 + l];
    EXPECT_NEAR(out[4 * (w * 32) + 0], sum, 1e-4f);
    for (int l = 0; l < 32; ++l) {
      const int t = w * 32 + l;
      EXPECT_NEAR(out[4 * t + 1], sum, 1e-4f) << "xor sum, lane " << l;
      EXPECT_EQ(out[4 * t + 2], x[w * 32 + 5]) << "broadcast, lane " << l;
      float scan = 0.0f;
      for (int k = l - l % 8; k <= l; ++k) scan += x[w * 32 + k];
      EXPECT_NEAR(out[4 * t + 3], scan, 1e-4f) << "segmented scan, lane " << l;
    }
  }
  std::vector<float> signs(n, 1.0f);
  signs[40] = -1.0f;  // warp 1 is not all positive
  std::vector<unsigned> ballot(2);
  std::vector<int> any_all(4);
  MD_LAUNCH(vote_kernel, 1, n, 0, signs.data(), ballot.data(), any_all.data());
  EXPECT_EQ(ballot[0], 0xaaaaaaaau);
  EXPECT_EQ(ballot[1], 0xaaaaaaaau);
  EXPECT_EQ(any_all, (std::vector<int>{1, 1, 1, 0}));

  std::vector<float> one(1, 0.0f);
  MD_LAUNCH(syncwarp_kernel, 1, 32, 0, one.data());
  EXPECT_EQ(one[0], 42.0f);
  expect_error([&] { MD_LAUNCH(bad_shuffle_kernel, 1, 32, 0, out.data()); },
               {"bad_shuffle_kernel", "reads lane 20", "__shfl_sync", "mask 0xffff"});
}

TEST(CudaEmu, TwoLevelReduction) {
  // 96 threads: three full warps; 4 blocks.
  std::vector<float> x = iota_floats(4 * 96), out(4);
  MD_LAUNCH(two_level_sum_kernel, 4, 96, 0, x.data(), out.data());
  for (int b = 0; b < 4; ++b) {
    float want = 0.0f;
    for (int i = 0; i < 96; ++i) want += x[b * 96 + i];
    EXPECT_NEAR(out[b], want, 1e-3f);
  }
  // 80 threads: the third warp has 16 lanes, and a full-mask shuffle there reads lanes that do
  // not exist (undefined values on a GPU): an error here.
  expect_error([&] { MD_LAUNCH(two_level_sum_kernel, 1, 80, 0, x.data(), out.data()); },
               {"two_level_sum_kernel", "__shfl_down_sync", "not in the mask or not in the block"});
}

TEST(CudaEmu, ManyBlocksAreFast) {
  // 4096 blocks of 128 threads, 8 barriers each: about 4.7 million fiber switches.
  const int n = 4096 * kThreads;
  std::vector<float> x(n, 1.0f), out(4096);
  MD_LAUNCH(block_sum_kernel<false>, 4096, kThreads, 0, x.data(), n, out.data());
  for (int b = 0; b < 4096; ++b) ASSERT_EQ(out[b], static_cast<float>(kThreads));
}

TEST(CudaEmu, AtomicsAcrossBlocks) {
  // Integer-valued floats, so the sum is exact in any order of the atomic adds.
  const int n = 5000;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i % 10);
  float fsum = 0.0f;
  int count = 0;
  MD_LAUNCH(atomic_kernel, (n + 255) / 256, 256, 0, &fsum, &count, x.data(), n);
  EXPECT_EQ(count, n);
  EXPECT_EQ(fsum, 22500.0f);  // 500 runs of 0 + 1 + ... + 9 = 45
}

TEST(CudaEmu, DynamicAndTwoDimensionalSharedMemory) {
  const int n = 3 * 64;
  std::vector<float> x = iota_floats(n, 0.0f), out(n);
  MD_LAUNCH(reverse_kernel, 3, 64, 64 * sizeof(float), x.data(), out.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[b * 64 + t], x[b * 64 + 63 - t]);
  // Too little dynamic memory for the block: the access is out of bounds.
  expect_error([&] { MD_LAUNCH(reverse_kernel, 1, 64, 32 * sizeof(float), x.data(), out.data()); },
               {"reverse_kernel", "'buf'", "outside its 32 elements"});

  std::vector<float> m(256), mt(256);
  std::iota(m.begin(), m.end(), 0.0f);
  MD_LAUNCH(transpose_kernel, 1, dim3(16, 16), 0, m.data(), mt.data());
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) EXPECT_EQ(mt[r * 16 + c], m[c * 16 + r]);
}

TEST(CudaEmu, InvalidLaunchConfigurations) {
  std::vector<float> out(4);
  expect_error([&] { MD_LAUNCH(syncwarp_kernel, 1, 2048, 0, out.data()); },
               {"syncwarp_kernel", "invalid launch configuration", "1024 threads"});
  expect_error([&] { MD_LAUNCH(syncwarp_kernel, 0, 32, 0, out.data()); },
               {"syncwarp_kernel", "extent is 0"});
  expect_error([&] { MD_LAUNCH(syncwarp_kernel, 1, 32, 64 * 1024, out.data()); },
               {"syncwarp_kernel", "dynamic shared memory"});
}

}  // namespace
}  // namespace mindiff
