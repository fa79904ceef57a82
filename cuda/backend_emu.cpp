// The emulator's backend (see tensor/device_backend.h): "device" memory is host memory, handed
// out through the same caching allocator as on a GPU, so that CUDA tensors, copies between
// devices and the emulated kernels work in the test suite of a machine without a GPU.
#include <cstdlib>
#include <cstring>

#include "tensor/device_backend.h"
#include "cuda/caching_allocator.h"
#include "cuda/copy_counts.h"

namespace mindiff::cuda {

namespace {

constexpr size_t kAlignment = 256;  // what cudaMalloc guarantees

void* raw_alloc(size_t bytes) {
  return std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
}
void raw_free(void* p) { std::free(p); }

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator(raw_alloc, raw_free);  // lives to the end
  return *a;
}

}  // namespace

bool emulated() { return true; }
bool available() { return true; }
void require_available(const std::string&) {}
std::string device_description() { return "CUDA emulator (kernels run on the CPU)"; }

void* device_malloc(size_t bytes) { return allocator().allocate(bytes); }
void device_free(void* ptr) { allocator().release(ptr); }
void copy_to_device(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kToDevice, bytes);
  std::memcpy(dst, src, bytes);
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kToHost, bytes);
  std::memcpy(dst, src, bytes);
}
void copy_on_device(void* dst, const void* src, size_t bytes) {
  count_copy(CopyDirection::kOnDevice, bytes);
  std::memmove(dst, src, bytes);
}
void synchronize() {}

MemoryStats memory_stats() { return allocator().stats(); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace mindiff::cuda
