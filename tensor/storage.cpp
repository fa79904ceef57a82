#include "tensor/storage.h"

#include "tensor/device_backend.h"
#include "tensor/host_allocator.h"

namespace mindiff {

Storage::Storage(size_t size, Device device) : size_(size), device_(device) {
  const size_t bytes = (size == 0 ? 1 : size) * sizeof(float);
  void* p = device == Device::CPU ? host_allocate(bytes) : cuda::device_malloc(bytes);
  data_ = static_cast<float*>(p);
}

Storage::~Storage() {
  if (device_ == Device::CPU)
    host_free(data_);
  else
    cuda::device_free(data_);
}

}  // namespace mindiff
