// Where a tensor's storage lives, and the marker for scalar math shared by both backends.
#pragma once
#include <string>

// MD_HOST_DEVICE marks small inline functions (activation derivatives, the Philox generator,
// optimizer updates) that are written once and compiled for both the CPU and CUDA backends.
#if defined(__CUDACC__)
#define MD_HOST_DEVICE __host__ __device__ inline
#else
#define MD_HOST_DEVICE inline
#endif

namespace mindiff {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace mindiff
