// The counters behind cuda::copy_counts() (tensor/device_backend.h), shared by the real and the
// emulated backend: their copy_to_device, copy_to_host and copy_on_device call count_copy once
// per copy.
#pragma once
#include <cstddef>

namespace mindiff::cuda {

enum class CopyDirection { kToDevice, kToHost, kOnDevice };  // indexes the counters: 0, 1, 2
void count_copy(CopyDirection direction, size_t bytes);

}  // namespace mindiff::cuda
