#include "tensor/storage.h"

#include "tensor/checked.h"
#include "tensor/device_backend.h"
#include "tensor/error.h"
#include "tensor/host_allocator.h"

namespace mindiff {

Storage::Storage(size_t size, Device device) : size_(size), device_(device) {
  size_t bytes = 0;
  MD_CHECK(checked_mul(size == 0 ? size_t{1} : size, sizeof(float), bytes), "cannot allocate ",
           size, " floats: more bytes than fit in 64 bits");
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
