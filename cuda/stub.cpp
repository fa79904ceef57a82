// The CUDA backend of a build without CUDA: every entry point fails with a clear message.
#include "cuda/backend.h"

#include "tensor/error.h"

namespace mindiff::cuda {

namespace {
[[noreturn]] void fail(const char* what) {
  throw Error(std::string(what) + ": mindiff was built without CUDA (nvcc not found at build time)");
}
}  // namespace

bool available() { return false; }
void* device_malloc(size_t) { fail("device_malloc"); }
void device_free(void* ptr) {
  if (ptr) fail("device_free");
}
void copy_to_device(void*, const void*, size_t) { fail("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { fail("copy_to_host"); }

}  // namespace mindiff::cuda
