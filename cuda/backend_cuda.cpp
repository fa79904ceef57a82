// The real backend (see tensor/device_backend.h), built by `make cuda`: device memory from
// cudaMalloc behind the caching allocator; every kernel and copy on the one default stream, in
// order. Copies to the device go through pinned staging memory and are queued without making the
// host wait (cuda/staging_ring.h); a copy to the host waits for the kernels queued before it, so
// it sees their results.
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>
#include <string>

#include "tensor/device_backend.h"
#include "cuda/caching_allocator.h"
#include "cuda/copy_counts.h"
#include "cuda/staging_ring.h"
#include "tensor/error.h"

namespace mindiff::cuda {

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Why no device can be used, or "" when one can. Asked once.
const std::string& unavailable_reason() {
  static const std::string reason = [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error state of this failed call
      return std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    }
    if (n == 0) return std::string("cudaGetDeviceCount found 0 devices");
    return std::string();
  }();
  return reason;
}

void* raw_alloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(e, "cudaMalloc");
  return p;
}
void raw_free(void* p) { cudaFree(p); }

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator(raw_alloc, raw_free);  // lives to the end
  return *a;
}

// Pinned staging for copies to the device. 32 MiB holds several steps' batches of 64 RGB images
// at 128x128 (12.6 MB each) and the per-sample coefficients; a larger copy goes without staging.
constexpr size_t kStagingBytes = size_t(32) << 20;

MarkerOps cuda_events() {
  MarkerOps ops;
  ops.create = [] {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    return static_cast<Marker>(e);
  };
  ops.record = [](Marker m) {
    check(cudaEventRecord(static_cast<cudaEvent_t>(m), 0), "cudaEventRecord");
  };
  ops.passed = [](Marker m) {
    const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(m));
    if (e == cudaErrorNotReady) {
      cudaGetLastError();  // "not yet" is an answer, not an error: clear it from the last error
      return false;
    }
    check(e, "cudaEventQuery");
    return true;
  };
  ops.wait = [](Marker m) {
    check(cudaEventSynchronize(static_cast<cudaEvent_t>(m)), "cudaEventSynchronize");
  };
  return ops;
}

// The ring, made on the first copy; nullptr when no pinned memory could be had (then every copy
// goes without staging). Lives to the end of the process, as the allocator does.
StagingRing* staging() {
  static StagingRing* ring = [] {
    void* memory = nullptr;
    if (cudaHostAlloc(&memory, kStagingBytes, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      return static_cast<StagingRing*>(nullptr);
    }
    return new StagingRing(static_cast<uint8_t*>(memory), kStagingBytes, cuda_events());
  }();
  return ring;
}
std::mutex staging_mutex;

}  // namespace

bool emulated() { return false; }
bool available() { return unavailable_reason().empty(); }

void require_available(const std::string& context) {
  if (!available()) throw Error(context + ": no CUDA device available (" + unavailable_reason() + ")");
}

std::string device_description() {
  if (!available()) return "no CUDA device (" + unavailable_reason() + ")";
  int dev = 0;
  cudaDeviceProp p{};
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.totalGlobalMem >> 20) + " MiB)";
}

void* device_malloc(size_t bytes) {
  require_available("allocating a CUDA tensor");
  return allocator().allocate(bytes);
}
void device_free(void* ptr) { allocator().release(ptr); }

void copy_to_device(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kToDevice, bytes);
  std::lock_guard<std::mutex> lock(staging_mutex);
  StagingRing* ring = staging();
  if (uint8_t* stage = ring ? ring->acquire(bytes) : nullptr) {
    std::memcpy(stage, src, bytes);
    const cudaError_t e = cudaMemcpyAsync(dst, stage, bytes, cudaMemcpyHostToDevice, 0);
    if (e != cudaSuccess) ring->abandon();
    check(e, "copy to the GPU (cudaMemcpyAsync)");
    ring->queued();
    return;
  }
  // Too large for the ring: from the caller's memory, which waits for the queue first.
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to the GPU (cudaMemcpy)");
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kToHost, bytes);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from the GPU (cudaMemcpy)");
}
void copy_on_device(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kOnDevice, bytes);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy on the GPU (cudaMemcpy)");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

MemoryStats memory_stats() { return allocator().stats(); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace mindiff::cuda
