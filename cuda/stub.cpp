// The CUDA backend of a build without CUDA: every entry point fails with a clear message. The
// kernel launchers of the ops (cuda/<op>.h) get the same treatment below, one line each; the
// linker checks them against their declarations.
#include "cuda/attention.h"
#include "cuda/conv2d.h"
#include "cuda/dropout.h"
#include "cuda/elementwise.h"
#include "cuda/embedding.h"
#include "cuda/loss.h"
#include "cuda/matmul.h"
#include "cuda/norm.h"
#include "cuda/optim.h"
#include "cuda/pool.h"
#include "cuda/reduce.h"
#include "cuda/softmax.h"
#include "cuda/upsample.h"
#include "tensor/device_backend.h"
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
CopyCounts copy_counts() { return CopyCounts{}; }  // nothing ever crosses
void reset_copy_counts() {}

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
Tensor reduce_cuda(ReduceKind, const Tensor&, unsigned, const Shape&, double) {
  fail("reduce_cuda");
}
Tensor max_mask_cuda(const Tensor&, const Tensor&) { fail("max_mask_cuda"); }
MatmulKernel default_matmul_kernel() { return MatmulKernel::RegisterBlocked; }
Tensor matmul_cuda(const Tensor&, const Tensor&, const Shape&, MatmulKernel) { fail("matmul_cuda"); }
void norm_forward_cuda(const Tensor&, const NormGeometry&, const Tensor&, const Tensor&, float, Tensor&,
                       Tensor&, Tensor&) {
  fail("norm_forward_cuda");
}
Tensor norm_backward_dx_cuda(const Tensor&, const Tensor&, const NormGeometry&, const Tensor&,
                             const Tensor&, const Tensor&) {
  fail("norm_backward_dx_cuda");
}
void norm_backward_affine_cuda(const Tensor&, const Tensor&, const NormGeometry&, const Tensor&,
                               const Tensor&, bool, bool, Tensor&, Tensor&) {
  fail("norm_backward_affine_cuda");
}
void norm_silu_forward_cuda(const Tensor&, const NormGeometry&, const Tensor&, const Tensor&, float,
                            Tensor&, Tensor&, Tensor&) {
  fail("norm_silu_forward_cuda");
}
void norm_silu_backward_cuda(const Tensor&, const Tensor&, const NormGeometry&, const Tensor&,
                             const Tensor&, const Tensor&, const Tensor&, bool, bool, bool, Tensor&,
                             Tensor&, Tensor&) {
  fail("norm_silu_backward_cuda");
}
Tensor softmax_cuda(const Tensor&, int, bool) { fail("softmax_cuda"); }
void attention_forward_cuda(const Tensor&, const Tensor&, const Tensor&, float, Tensor&, Tensor&) {
  fail("attention_forward_cuda");
}
void attention_backward_cuda(const Tensor&, const Tensor&, const Tensor&, float, const Tensor&,
                             const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&) {
  fail("attention_backward_cuda");
}
Tensor mse_loss_cuda(const Tensor&, const Tensor&) { fail("mse_loss_cuda"); }
Tensor mse_loss_backward_cuda(const Tensor&, const Tensor&, const Tensor&, float) {
  fail("mse_loss_backward_cuda");
}
Tensor cross_entropy_cuda(const Tensor&, const Tensor&) { fail("cross_entropy_cuda"); }
Tensor cross_entropy_backward_cuda(const Tensor&, const Tensor&, const Tensor&) {
  fail("cross_entropy_backward_cuda");
}
void dropout_mask_cuda(const Tensor&, float, float) { fail("dropout_mask_cuda"); }
void adam_update_all_cuda(MultiTensorTable&, const std::vector<Tensor>&, const std::vector<Tensor>&,
                          const std::vector<Tensor>&, const std::vector<Tensor>&, const AdamConsts&) {
  fail("adam_update_all_cuda");
}
void sgd_update_all_cuda(MultiTensorTable&, const std::vector<Tensor>&, const std::vector<Tensor>&,
                         const std::vector<Tensor>&, const SgdConsts&) {
  fail("sgd_update_all_cuda");
}
void ema_update_all_cuda(MultiTensorTable&, const std::vector<Tensor>&, const std::vector<Tensor>&,
                         float) {
  fail("ema_update_all_cuda");
}
void sgd_update_cuda(const Tensor&, const Tensor&, const Tensor&, const SgdConsts&) {
  fail("sgd_update_cuda");
}
void adam_update_cuda(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AdamConsts&) {
  fail("adam_update_cuda");
}
void ema_update_cuda(const Tensor&, const Tensor&, float) { fail("ema_update_cuda"); }
Tensor clip_global_norm_cuda_(const std::vector<Tensor>&, float) { fail("clip_global_norm_cuda_"); }
Tensor conv2d_forward_cuda(const Tensor&, const Tensor&, const Tensor&, const Conv2dGeometry&,
                           Conv2dAlgorithm) {
  fail("conv2d_forward_cuda");
}
Conv2dGrads conv2d_backward_cuda(const Tensor&, const Tensor&, const Tensor&,
                                 const Conv2dGeometry&, bool, bool, bool, Conv2dAlgorithm) {
  fail("conv2d_backward_cuda");
}
Tensor upsample_nearest2d_cuda(const Tensor&, int64_t) { fail("upsample_nearest2d_cuda"); }
Tensor upsample_nearest2d_backward_cuda(const Tensor&, int64_t) {
  fail("upsample_nearest2d_backward_cuda");
}
Tensor avg_pool2d_cuda(const Tensor&, int64_t, int64_t) { fail("avg_pool2d_cuda"); }
Tensor avg_pool2d_backward_cuda(const Tensor&, const Shape&, int64_t, int64_t) {
  fail("avg_pool2d_backward_cuda");
}
void sinusoidal_embedding_cuda(const Tensor&, const Tensor&, int64_t) {
  fail("sinusoidal_embedding_cuda");
}
Tensor softmax_backward_cuda(const Tensor&, const Tensor&, int, bool) {
  fail("softmax_backward_cuda");
}

}  // namespace mindiff
