#include "cuda/caching_allocator.h"

namespace mindiff::cuda {

MemoryStats CachingAllocator::stats() {
  const CachingAllocatorStats s = mindiff::CachingAllocator::stats();
  MemoryStats m;
  m.device_allocs = s.system_allocs;
  m.device_frees = s.system_frees;
  m.cache_hits = s.cache_hits;
  m.bytes_in_use = s.bytes_in_use;
  m.bytes_cached = s.bytes_cached;
  return m;
}

}  // namespace mindiff::cuda
