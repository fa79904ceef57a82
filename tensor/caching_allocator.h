// A caching allocator: freed blocks are kept and handed out again, so that a loop which creates
// and drops the same tensors every iteration (a training step, a sampling step) stops calling
// the system's allocator after its first iteration. One class serves both memories:
//   host memory   tensor/host_allocator.h, over aligned_alloc: CPU tensors (tensor/storage.cpp)
//   CUDA memory   cuda/caching_allocator.h, over cudaMalloc (or the emulator's host memory)
// On the host, a large aligned_alloc is a fresh mmap whose pages fault in (and are zeroed by the
// kernel) on first touch, and free unmaps them again: a training step paid that for every
// activation and gradient, every step. On a GPU, cudaMalloc and cudaFree synchronise the device.
//
// Size classes: requests are rounded up to 512 bytes, and above that to a quarter of their power
// of two (1024, 1280, 1536, 1792, 2048, 2560, ...), so at most 20% of a block is padding while
// sizes that differ by a few bytes share a class. Padding a tensor never touches costs no
// resident memory on the host (its pages are never faulted in).
//
// Reuse, best fit: a request takes the smallest cached block of its class or larger, up to
// kMaxFit times its class (a larger block would be wasted on it and missed by the request it
// suits), most recently freed first (likeliest still in cache). Otherwise the system allocates.
//
// Cap: the cached (free) bytes never exceed cache_limit(): a block released past it goes back to
// the system at once. set_cache_limit trims the cache to a new limit; empty_cache gives all of it
// back. When the system allocator fails, the cache is emptied and the request retried once.
//
// Bounds: no block may exceed kMaxBytes, and the blocks held by live tensors may not exceed
// capacity() (unlimited unless set; the host allocator sets physical memory). A request past
// either (a size read from a file, a config or a flag) is an Error naming it, raised before any
// arithmetic on it could overflow and before the system is asked for memory it cannot give.
//
// Thread-safe (one mutex: calls are per tensor, not per element).
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mindiff {

struct CachingAllocatorStats {
  size_t system_allocs = 0;  // calls to the underlying allocator
  size_t system_frees = 0;   // blocks given back to it (past the cap, trims, empty_cache)
  size_t cache_hits = 0;     // allocations served from the cache
  size_t bytes_in_use = 0;   // held by live blocks (their size classes)
  size_t bytes_cached = 0;   // free blocks kept for reuse
  size_t peak_bytes = 0;     // high-water mark of bytes_in_use + bytes_cached
};

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t bytes);  // nullptr when out of memory
  using RawFree = void (*)(void* ptr);
  // A cached block may serve requests down to 1 / kMaxFit of its size class.
  static constexpr size_t kMaxFit = 2;
  // The largest block: 2^48 bytes (256 TiB) is more memory than any machine has, and keeps the
  // size-class rounding below far from overflowing size_t.
  static constexpr size_t kMaxBytes = size_t{1} << 48;

  // `memory` names it in errors ("host", "CUDA device").
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, std::string memory,
                   size_t cache_limit = static_cast<size_t>(-1));
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes);  // throws mindiff::Error when out of memory
  void release(void* ptr);       // nullptr is a no-op; throws for a pointer not handed out here
  void empty_cache();
  void set_cache_limit(size_t bytes);  // frees cached blocks, largest first, down to the limit
  size_t cache_limit();
  void set_capacity(size_t bytes);  // the most bytes live blocks may hold together
  size_t capacity();
  CachingAllocatorStats stats();

  static size_t size_class(size_t bytes);  // bytes <= kMaxBytes, else an Error

 private:
  void free_cached(std::multimap<size_t, void*>::iterator it);  // mutex held

  RawAlloc alloc_;
  RawFree free_;
  std::string memory_;
  size_t limit_;
  size_t capacity_ = static_cast<size_t>(-1);
  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;  // block -> its size class
  std::multimap<size_t, void*> cached_;     // size class -> free block (newest first per class)
  CachingAllocatorStats stats_;
};

}  // namespace mindiff
