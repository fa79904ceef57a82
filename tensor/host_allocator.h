// Host memory for CPU tensors: one process-wide CachingAllocator (tensor/caching_allocator.h)
// over aligned_alloc, with 64-byte aligned blocks (a cache line; enough for AVX-512 loads). After
// the first step of a training or sampling loop, its tensors come from the cache: no mmap, no
// page faults, no zeroing by the kernel.
//
// The cache holds at most a quarter of physical memory by default; set_host_cache_limit changes
// that (0 turns caching off), host_empty_cache gives every cached block back to the system.
// Live tensors may hold at most the machine's physical memory together: a request past that
// (say a network built from a config line asking for 2^40 hidden units) is an Error naming the
// sizes rather than a process that swaps or is killed. set_host_memory_limit lowers the bound
// (the fuzz harnesses run under a small one).
#pragma once
#include <cstddef>

#include "tensor/caching_allocator.h"

namespace mindiff {

constexpr size_t kHostAlignment = 64;

void* host_allocate(size_t bytes);  // kHostAlignment-aligned; throws mindiff::Error when out of memory
void host_free(void* ptr);          // nullptr is a no-op
CachingAllocatorStats host_memory_stats();
void host_empty_cache();
void set_host_cache_limit(size_t bytes);
void set_host_memory_limit(size_t bytes);

}  // namespace mindiff
