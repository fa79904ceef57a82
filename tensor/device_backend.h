// The CUDA device as the tensor core needs it: whether there is one, its memory, copies, and
// the kernels behind the core's own methods on device tensors (fill_, copy_, add_, randn/rand).
// Declared here, in the tensor core, and implemented in cuda/, which the core never includes; a
// binary links one of three builds of it (the Makefile picks):
//   cuda/stub.cpp          no CUDA: every entry point fails with "built without CUDA"
//   cuda/backend_cuda.cpp  the real one (make cuda): cudaMalloc behind a caching allocator
//   cuda/backend_emu.cpp   the emulator's (the test suite): host memory behind the same allocator
// with the kernels in cuda/copy.cu and cuda/random.cu (nvcc or the emulator). The ops' kernel
// launchers (the `_cuda` functions) are declared in cuda/<op>.h, reached from tensor/ops/ only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace mindiff::cuda {

// A usable device is present and this build has CUDA (always true for the emulator).
bool available();
// Throws mindiff::Error "<context>: no CUDA device available (cudaGetDeviceCount: ...)", or
// "<context>: mindiff was built without CUDA ...", unless available(). For front ends:
//   cuda::require_available("--device cuda");
void require_available(const std::string& context);
// One line for logs: the GPU's name, compute capability and memory, or "CUDA emulator ...".
std::string device_description();
// True for the emulator's backend: "CUDA" kernels run on the CPU (the test suite's build).
bool emulated();

void* device_malloc(size_t bytes);  // device memory (throws when unavailable or out of memory)
void device_free(void* ptr);        // no-op on nullptr
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_on_device(void* dst, const void* src, size_t bytes);
void synchronize();  // waits for all launched kernels (and surfaces their errors)

// The caching allocator's counters (cuda/caching_allocator.h).
struct MemoryStats {
  size_t device_allocs = 0;   // calls to the device's own allocator (cudaMalloc)
  size_t device_frees = 0;    // calls to its free (only when the cache is emptied)
  size_t cache_hits = 0;      // allocations served from the cache
  size_t bytes_in_use = 0;    // held by live tensors (rounded up to size classes)
  size_t bytes_cached = 0;    // freed by tensors, kept for reuse
};
MemoryStats memory_stats();
void empty_cache();  // gives cached blocks back to the device

// Copies since the last reset_copy_counts(): every byte that crosses between host and device goes
// through copy_to_device or copy_to_host (Tensor::to, to_vector and item all do), and contiguous
// copies on the device through copy_on_device; the three count it (cuda/copy_counts.h). On a GPU
// a copy to the host waits for every queued kernel, so a step that reads anything back cannot
// run ahead of the device; tests/test_cuda_transfers.cpp holds a training step and the
// samplers' steps to their counts. Always zero in a build without CUDA.
struct CopyCounts {
  size_t to_device = 0;        // copy_to_device calls
  size_t to_device_bytes = 0;
  size_t to_host = 0;          // copy_to_host calls
  size_t to_host_bytes = 0;
  size_t on_device = 0;        // copy_on_device calls (device to device: no wait, but a pass over memory)
  size_t on_device_bytes = 0;
};
CopyCounts copy_counts();
void reset_copy_counts();

}  // namespace mindiff::cuda

namespace mindiff {

// ---- kernels of the tensor core (cuda/copy.cu, cuda/random.cu); all tensors on the device ----

void fill_cuda(const Tensor& dst, float value);
// dst = src, src broadcast to dst's shape, any strides. dst and src must not overlap
// (Tensor::copy_ sees to it).
void copy_cuda(const Tensor& dst, const Tensor& src);
// dst += src, src broadcast to dst's shape.
void add_into_cuda(const Tensor& dst, const Tensor& src);
// dst (contiguous) element i = philox_normal_at(seed, first, i) when `normal`, else
// philox_uniform_at(seed, first, i): exactly what tensor.cpp's CPU loop computes.
void random_fill_cuda(const Tensor& dst, uint64_t seed, uint64_t first, bool normal);

}  // namespace mindiff
