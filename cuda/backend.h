// The CUDA backend as seen from the rest of mindiff: the only header outside cuda/ that names it.
// A build without nvcc links cuda/stub.cpp, whose functions throw "built without CUDA".
#pragma once
#include <cstddef>

namespace mindiff::cuda {

bool available();                      // a usable GPU is present and this build has CUDA
void* device_malloc(size_t bytes);     // device memory (throws when unavailable)
void device_free(void* ptr);           // no-op on nullptr
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);

}  // namespace mindiff::cuda
