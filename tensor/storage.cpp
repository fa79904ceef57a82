#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "cuda/backend.h"
#include "tensor/error.h"

namespace mindiff {

namespace {
constexpr size_t kAlignment = 64;  // one cache line; also enough for AVX-512 loads
}

Storage::Storage(size_t size, Device device) : size_(size), device_(device) {
  size_t bytes = (size == 0 ? 1 : size) * sizeof(float);
  if (device == Device::CPU) {
    bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;  // aligned_alloc wants a multiple
    data_ = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
    MD_CHECK(data_ != nullptr, "out of host memory allocating ", bytes, " bytes");
  } else {
    data_ = static_cast<float*>(cuda::device_malloc(bytes));
  }
}

Storage::~Storage() {
  if (device_ == Device::CPU)
    std::free(data_);
  else
    cuda::device_free(data_);
}

}  // namespace mindiff
