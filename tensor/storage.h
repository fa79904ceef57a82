// Storage: one refcounted float32 buffer on one device. Tensors are views into a Storage.
#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace mindiff {

class Storage {
 public:
  // Allocates `size` floats on `device`, uninitialised, from that device's caching allocator
  // (tensor/host_allocator.h, cuda/caching_allocator.h): a freed buffer of a similar size is
  // reused. CPU buffers are 64-byte aligned so that vector loads never straddle a cache line at
  // the start of a tensor.
  Storage(size_t size, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() const { return data_; }
  size_t size() const { return size_; }
  Device device() const { return device_; }

 private:
  float* data_ = nullptr;
  size_t size_ = 0;
  Device device_;
};

}  // namespace mindiff
