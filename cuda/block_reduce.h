// Block-level reductions for kernels (included by .cu files): a sum or maximum over all threads
// of a block, in two levels.
//
//   1. Within each warp, a butterfly of __shfl_xor_sync: after the steps 16, 8, 4, 2, 1 every
//      lane holds the combination of all 32 lanes' values (no shared memory, no barrier).
//   2. Lane 0 of each warp writes its warp's value to shared memory; after a barrier warp 0
//      combines those (at most 32) values with another butterfly and lane 0 publishes the result
//      in shared memory; after a second barrier every thread reads it.
// The result has a slot of its own (32), apart from the per-warp slots: the next call's first
// writes go to the per-warp slots, and its first barrier orders every read of slot 32 before
// the next write to it, so back-to-back calls need no third barrier. (Publishing the result in
// slot 0 instead would race: warp 0's lane 0 could overwrite slot 0 in the next call while
// another warp has yet to read the result. The emulator reports that as a write-after-read race.)
//
// Requires blockDim.x a multiple of 32 (full warps) and blockDim.y == blockDim.z == 1. The
// order of the combination is fixed by the thread layout, so the result is deterministic.
#pragma once
#include <cmath>

#include "cuda/kernel.h"

namespace mindiff::cuda {

template <class T>
struct SumOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

// The maximum, with NaN winning (as the CPU's reductions: a NaN anywhere gives NaN).
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const {
    return (b > a || b != b) ? b : a;
  }
};

template <class T, class Op>
__device__ __forceinline__ T warp_all_reduce(T v, Op op) {
  for (int mask = 16; mask > 0; mask /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, mask));
  return v;
}

// The combination by `op` of v over the block (identity: op(identity, v) == v), in every thread.
template <class T, class Op>
__device__ T block_all_reduce(T v, Op op, T identity) {
  MD_SHARED(T, warp_values, 33);  // [0, 32): one per warp; [32]: the block's result
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_all_reduce(v, op);
  if (lane == 0) warp_values[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < warps ? static_cast<T>(warp_values[lane]) : identity;
    w = warp_all_reduce(w, op);
    if (lane == 0) warp_values[32] = w;
  }
  __syncthreads();
  return warp_values[32];
}

// Threads per block for a block that reduces n values: whole warps, at most kMax.
inline int reduce_threads(int64_t n, int max_threads = 256) {
  const int64_t warps = (n + 31) / 32;
  const int64_t t = warps * 32;
  return static_cast<int>(t < 32 ? 32 : (t > max_threads ? max_threads : t));
}

}  // namespace mindiff::cuda
