// The caching allocator (see caching_allocator.h).
#include "cuda/caching_allocator.h"

#include "tensor/error.h"

namespace mindiff::cuda {

size_t CachingAllocator::size_class(size_t bytes) {
  constexpr size_t kMin = 512;
  if (bytes <= kMin) return kMin;
  size_t power = kMin;  // the largest power of two <= bytes
  while (power * 2 <= bytes) power *= 2;
  const size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t cls = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<void*>& list = cached_[cls];
  void* p = nullptr;
  if (!list.empty()) {
    p = list.back();
    list.pop_back();
    ++stats_.cache_hits;
    stats_.bytes_cached -= cls;
  } else {
    p = alloc_(cls);
    if (!p) {  // out of memory: give the cached blocks back and try once more
      for (auto& [c, blocks] : cached_) {
        for (void* q : blocks) free_(q);
        stats_.device_frees += blocks.size();
        blocks.clear();
      }
      stats_.bytes_cached = 0;
      p = alloc_(cls);
    }
    MD_CHECK(p != nullptr, "out of CUDA device memory allocating ", cls, " bytes (",
             stats_.bytes_in_use >> 20, " MiB held by tensors)");
    ++stats_.device_allocs;
  }
  live_[p] = cls;
  stats_.bytes_in_use += cls;
  return p;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  MD_CHECK(it != live_.end(), "CUDA free of a pointer this allocator did not hand out");
  const size_t cls = it->second;
  live_.erase(it);
  cached_[cls].push_back(ptr);
  stats_.bytes_in_use -= cls;
  stats_.bytes_cached += cls;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [cls, blocks] : cached_) {
    for (void* p : blocks) free_(p);
    stats_.device_frees += blocks.size();
    blocks.clear();
  }
  stats_.bytes_cached = 0;
}

MemoryStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace mindiff::cuda
