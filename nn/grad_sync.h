// Data-parallel gradient averaging in buckets, and the broadcast that makes every rank's
// parameters equal.
//
// Each of the N ranks computes the gradient g_r of the mean loss over its own B examples; the
// gradient of the mean over all N B examples is their mean, g = (1/N) sum_r g_r. Rather than one
// collective per parameter (hundreds of small messages), the parameters are grouped in order into
// buckets of about `bucket_bytes`; for each bucket the gradients are copied into one flat buffer
// [n] on the parameters' device, the buffer is all-reduced (summed), and its sum / N copied back:
//
//   bucket k = params [p_k, p_{k+1}),  flat = concat(grad(p).reshape(-1) for p in bucket)
//
// A parameter larger than a bucket gets a bucket of its own. A parameter without a gradient on a
// rank contributes zeros; it gets the averaged gradient if any rank had one, and keeps none if no
// rank had (so the optimizer skips it, as in one process). Buckets are reduced after the whole
// backward pass (no overlap with it).
//
// All ranks must pass the same parameters (the same model) in the same order. CPU parameters go
// through the communicator given; CUDA parameters through an NCCL communicator made from it
// (nn/nccl_communicator.h) when there is more than one rank.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "nn/communicator.h"
#include "tensor/tensor.h"

namespace mindiff::dist {

class GradientSync {
 public:
  static constexpr size_t kDefaultBucketBytes = size_t(4) << 20;  // 4 MiB: 1M floats

  GradientSync(Communicator& comm, std::vector<Tensor> params,
               size_t bucket_bytes = kDefaultBucketBytes);
  ~GradientSync();

  // Every rank's parameters become rank 0's (under no-grad; the tensors keep their identity).
  void broadcast_parameters();
  // Every parameter's gradient becomes the mean of the ranks' gradients (see above).
  void average_gradients();

  int num_buckets() const { return static_cast<int>(bucket_start_.size()) - 1; }
  int64_t bucket_numel(int k) const;  // parameter elements in bucket k
  int64_t bucket_size(int k) const;   // parameters in bucket k
  const Communicator& communicator() const { return *comm_; }

 private:
  // Copies every parameter of bucket k (its values or its gradient) to or from the flat buffer.
  void pack(int k, bool grads);
  void unpack(int k, bool grads);

  std::unique_ptr<Communicator> owned_;  // the NCCL communicator, for CUDA parameters
  Communicator* comm_;
  std::vector<Tensor> params_;
  std::vector<size_t> bucket_start_;     // bucket k = params_[start[k], start[k + 1])
  Tensor flat_;                          // [largest bucket], on the parameters' device
};

}  // namespace mindiff::dist
