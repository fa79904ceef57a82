#include "tensor/host_allocator.h"

#include <unistd.h>

#include <cstdlib>

namespace mindiff {

namespace {

// Size classes are multiples of 128 bytes, as aligned_alloc wants multiples of the alignment.
void* raw_alloc(size_t bytes) { return std::aligned_alloc(kHostAlignment, bytes); }
void raw_free(void* p) { std::free(p); }

// Physical memory in bytes; 0 when the system does not say.
size_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

CachingAllocator* make_allocator() {
  const size_t physical = physical_memory();
  auto* a = new CachingAllocator(raw_alloc, raw_free, "host",
                                 physical ? physical / 4 : size_t{1} << 30);  // unknown: 1 GiB
  if (physical) a->set_capacity(physical);
  return a;
}

CachingAllocator& allocator() {
  // Never destroyed: tensors held by static objects are freed after main returns.
  static CachingAllocator* a = make_allocator();
  return *a;
}

}  // namespace

void* host_allocate(size_t bytes) { return allocator().allocate(bytes); }
void host_free(void* ptr) { allocator().release(ptr); }
CachingAllocatorStats host_memory_stats() { return allocator().stats(); }
void host_empty_cache() { allocator().empty_cache(); }
void set_host_cache_limit(size_t bytes) { allocator().set_cache_limit(bytes); }
void set_host_memory_limit(size_t bytes) { allocator().set_capacity(bytes); }

}  // namespace mindiff
