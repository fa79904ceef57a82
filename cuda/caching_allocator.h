// Device memory's caching allocator: tensor/caching_allocator.h (size classes, best-fit reuse of
// freed blocks, the retry on out-of-memory) over cudaMalloc, shared by the real and the emulated
// backend; stats() in the backend's MemoryStats.
//
// cudaMalloc and cudaFree are slow (they synchronise the device and can take milliseconds), and
// a training step allocates and frees the same few hundred tensor sizes every iteration: after
// the first step the training loop allocates nothing from the device. No cap: device memory is
// the process's own, and is given back when an allocation would fail.
//
// Reuse is safe without events because all kernels and copies go to one stream, in order: a
// block freed by the host while a kernel still reads it can only be handed to work queued after
// that kernel.
#pragma once
#include "tensor/caching_allocator.h"
#include "tensor/device_backend.h"

namespace mindiff::cuda {

class CachingAllocator : public mindiff::CachingAllocator {
 public:
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free)
      : mindiff::CachingAllocator(raw_alloc, raw_free, "CUDA device") {}
  MemoryStats stats();
};

}  // namespace mindiff::cuda
