// The caching allocator (see caching_allocator.h).
#include "tensor/caching_allocator.h"

#include <algorithm>
#include <utility>

#include "tensor/error.h"

namespace mindiff {

CachingAllocator::CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, std::string memory,
                                   size_t cache_limit)
    : alloc_(raw_alloc), free_(raw_free), memory_(std::move(memory)), limit_(cache_limit) {}

size_t CachingAllocator::size_class(size_t bytes) {
  MD_CHECK(bytes <= kMaxBytes, "cannot allocate ", bytes, " bytes of memory: more than the ",
           kMaxBytes, " (256 TiB) that one block may take");
  constexpr size_t kMin = 512;
  if (bytes <= kMin) return kMin;
  size_t power = kMin;  // the largest power of two <= bytes
  while (power <= bytes / 2) power *= 2;
  const size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

void CachingAllocator::free_cached(std::multimap<size_t, void*>::iterator it) {
  free_(it->second);
  stats_.bytes_cached -= it->first;
  ++stats_.system_frees;
  cached_.erase(it);
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t want = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  MD_CHECK(want <= capacity_ - std::min(capacity_, stats_.bytes_in_use), "out of ", memory_,
           " memory allocating ", bytes, " bytes: tensors already hold ", stats_.bytes_in_use,
           " of the ", capacity_, " bytes allowed");
  void* p = nullptr;
  size_t cls = want;
  auto it = cached_.lower_bound(want);  // the smallest cached class >= want, newest first
  if (it != cached_.end() && it->first <= kMaxFit * want) {
    cls = it->first;
    p = it->second;
    cached_.erase(it);
    stats_.bytes_cached -= cls;
    ++stats_.cache_hits;
  } else {
    p = alloc_(cls);
    if (!p) {  // out of memory: give the cached blocks back and try once more
      while (!cached_.empty()) free_cached(cached_.begin());
      p = alloc_(cls);
    }
    MD_CHECK(p != nullptr, "out of ", memory_, " memory allocating ", cls, " bytes (",
             stats_.bytes_in_use >> 20, " MiB held by tensors)");
    ++stats_.system_allocs;
  }
  live_[p] = cls;
  stats_.bytes_in_use += cls;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use + stats_.bytes_cached);
  return p;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  MD_CHECK(it != live_.end(), memory_, " free of a pointer this allocator did not hand out");
  const size_t cls = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= cls;
  if (stats_.bytes_cached + cls > limit_) {  // past the cap: straight back to the system
    free_(ptr);
    ++stats_.system_frees;
    return;
  }
  // Before the other blocks of its class, so that the newest is taken first.
  cached_.emplace_hint(cached_.lower_bound(cls), cls, ptr);
  stats_.bytes_cached += cls;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!cached_.empty()) free_cached(cached_.begin());
}

void CachingAllocator::set_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = bytes;
  while (stats_.bytes_cached > limit_) free_cached(std::prev(cached_.end()));
}

void CachingAllocator::set_capacity(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  capacity_ = bytes;
}

size_t CachingAllocator::capacity() {
  std::lock_guard<std::mutex> lock(mutex_);
  return capacity_;
}

size_t CachingAllocator::cache_limit() {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

CachingAllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace mindiff
