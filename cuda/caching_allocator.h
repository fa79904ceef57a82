// A caching allocator for device memory, shared by the real and the emulated backend.
//
// cudaMalloc and cudaFree are slow (they synchronise the device and can take milliseconds), and a
// training step allocates and frees the same few hundred tensor sizes every iteration. So freed
// blocks are not given back: each goes onto the free list of its size class, and the next
// request of that class takes it. After the first step the training loop allocates nothing from
// the device.
//
// Size classes: requests are rounded up to 512 bytes, and above that to a quarter of their
// power of two (1024, 1280, 1536, 1792, 2048, 2560, ...), so at most 20% of a block is
// padding while sizes that differ by a few bytes still share a class.
//
// Reuse is safe without events because all kernels and copies go to one stream, in order: a
// block freed by the host while a kernel still reads it can only be handed to work queued after
// that kernel. When the device allocator fails, the cache is emptied and the request retried once.
#pragma once
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/backend.h"

namespace mindiff::cuda {

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t bytes);  // nullptr when out of memory
  using RawFree = void (*)(void* ptr);

  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free) : alloc_(raw_alloc), free_(raw_free) {}

  void* allocate(size_t bytes);  // throws mindiff::Error when the device is out of memory
  void release(void* ptr);       // nullptr is a no-op
  void empty_cache();
  MemoryStats stats();

  static size_t size_class(size_t bytes);

 private:
  RawAlloc alloc_;
  RawFree free_;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;                 // block -> its size class
  std::unordered_map<size_t, std::vector<void*>> cached_;  // size class -> free blocks
  MemoryStats stats_;
};

}  // namespace mindiff::cuda
