// The first include of every .cu file: one source, two compilers.
//
//   nvcc (make cuda)   the real thing: __global__ kernels, <<<grid, block, shared>>> launches.
//   g++  (make test)   the emulator in cuda/emu/: the same kernels run on the CPU, each block's
//                      threads as coroutines, with shared memory watched for races.
//
// Kernel code may use, and only use, this part of CUDA:
//   threadIdx, blockIdx, blockDim, gridDim, warpSize
//   __global__ __device__ __host__ __forceinline__ __launch_bounds__
//   MD_UNROLL before a loop of constant trip count (#pragma unroll for nvcc, nothing for g++)
//   __syncthreads(), __syncwarp(), __shfl_sync/_up/_down/_xor, __ballot_sync, __all_sync,
//   __any_sync, atomicAdd (float, int, unsigned) and atomicMax/atomicMin/atomicExch/atomicCAS
//   on global memory, float4 loads and stores of 16-byte-aligned global memory, the float math of
//   <cmath> (expf, logf, sqrtf, ...), and the TF32 tensor-core instruction of cuda/mma.h.
//
// Shared memory is declared through macros, so that the emulator can see every access:
//   MD_SHARED(float, partial, 256);          // __shared__ float partial[256];
//   MD_SHARED_2D(float, tile, 32, 33);       // __shared__ float tile[32][33];
//   MD_SHARED_DYNAMIC(float, smem);          // extern __shared__ float smem[];
// and passed to device functions as SharedPtr<T> (a plain T* under nvcc). Indexing with [] is all
// a kernel may do with it: no pointer arithmetic, no & of an element, no atomics on it; except
// load_shared4(s, i) and store_shared4(s, i, v), four consecutive floats in one 16-byte load or
// store (i a multiple of 4).
//
// Kernels are launched from host code with
//   MD_LAUNCH(kernel, grid, block, shared_bytes, args...);
// which checks the launch (configuration errors are a mindiff::Error naming the kernel). A
// kernel given as a template with several arguments, whose commas would split the macro, is
// launched with the function it expands to: launch("name", &k<A, B>, grid, block, bytes, args...).
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)

#include <cuda_runtime.h>

#include <string>

#include "tensor/error.h"

#define MD_UNROLL _Pragma("unroll")
#define MD_SHARED(type, name, n) __shared__ __align__(16) type name[n]
#define MD_SHARED_2D(type, name, rows, cols) __shared__ __align__(16) type name[rows][cols]
#define MD_SHARED_DYNAMIC(type, name) extern __shared__ type name[]

namespace mindiff::cuda {

template <class T>
using SharedPtr = T*;

// Elements i .. i + 3 of a shared float array in one 16-byte load (i a multiple of 4; MD_SHARED
// arrays are 16-byte aligned).
__device__ __forceinline__ float4 load_shared4(SharedPtr<float> s, int64_t i) {
  return *reinterpret_cast<const float4*>(s + i);
}
// Four floats into elements i .. i + 3 in one 16-byte store (i a multiple of 4).
__device__ __forceinline__ void store_shared4(SharedPtr<float> s, int64_t i, float4 v) {
  *reinterpret_cast<float4*>(s + i) = v;
}

// Launch errors (a bad configuration, no device, a kernel compiled for another GPU) surface at
// once; errors while the kernel runs surface at the next synchronising call (a copy to the host).
inline void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw Error(std::string("kernel ") + kernel + ": launch failed: " + cudaGetErrorString(e));
}

template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t shared_bytes, Args... args) {
  kernel<<<grid, block, shared_bytes>>>(args...);
  check_launch(name);
}

}  // namespace mindiff::cuda

#else  // emulation on the CPU

#include "cuda/emu/emu.h"

#endif

#define MD_LAUNCH(kernel, grid, block, shared_bytes, ...) \
  ::mindiff::cuda::launch(#kernel, kernel, grid, block, shared_bytes, __VA_ARGS__)
