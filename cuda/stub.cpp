// The CUDA backend of a build without CUDA: every entry point fails with a clear message. The
// kernel launchers of the ops (cuda/<op>.h) get the same treatment below, one line each; the
// linker checks them against their declarations.
#include "cuda/backend.h"
#include "cuda/copy.h"
#include "cuda/elementwise.h"
#include "cuda/matmul.h"
#include "cuda/random.h"
#include "cuda/reduce.h"
#include "cuda/softmax.h"
#include "tensor/error.h"

namespace mindiff::cuda {

namespace {
const char* const kWhy =
    "mindiff was built without CUDA (build the CUDA binaries with `make cuda` on a machine with nvcc)";
[[noreturn]] void fail(const std::string& what) { throw Error(what + ": " + kWhy); }
}  // namespace

bool emulated() { return false; }
bool available() { return false; }
void require_available(const std::string& context) { fail(context); }
std::string device_description() { return "no CUDA device (built without CUDA)"; }
void* device_malloc(size_t) { fail("device_malloc"); }
void device_free(void* ptr) {
  if (ptr) fail("device_free");
}
void copy_to_device(void*, const void*, size_t) { fail("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { fail("copy_to_host"); }
void copy_on_device(void*, const void*, size_t) { fail("copy_on_device"); }
void synchronize() {}
MemoryStats memory_stats() { return MemoryStats{}; }
void empty_cache() {}

}  // namespace mindiff::cuda

// ---- kernel launchers ----
namespace mindiff {

using cuda::fail;

void fill_cuda(const Tensor&, float) { fail("fill_cuda"); }
void copy_cuda(const Tensor&, const Tensor&) { fail("copy_cuda"); }
void add_into_cuda(const Tensor&, const Tensor&) { fail("add_into_cuda"); }
void random_fill_cuda(const Tensor&, uint64_t, uint64_t, bool) { fail("random_fill_cuda"); }
Tensor unary_cuda(UnaryKind, float, const Tensor&) { fail("unary_cuda"); }
Tensor unary_backward_cuda(UnaryKind, float, const Tensor&, const Tensor&, const Tensor&) {
  fail("unary_backward_cuda");
}
Tensor binary_cuda(BinaryKind, const Tensor&, const Tensor&, const Shape&) { fail("binary_cuda"); }
Tensor reduce_cuda(ReduceKind, const Tensor&, unsigned, bool, double) { fail("reduce_cuda"); }
Tensor max_mask_cuda(const Tensor&, const Tensor&) { fail("max_mask_cuda"); }
Tensor matmul_cuda(const Tensor&, const Tensor&, const Shape&, MatmulKernel) { fail("matmul_cuda"); }
Tensor softmax_cuda(const Tensor&, int, bool) { fail("softmax_cuda"); }
Tensor softmax_backward_cuda(const Tensor&, const Tensor&, int, bool) {
  fail("softmax_backward_cuda");
}

}  // namespace mindiff
