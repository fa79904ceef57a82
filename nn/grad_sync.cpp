// GradientSync (see grad_sync.h). Shapes: a bucket of parameters p_i with n_i elements is the flat
// buffer [sum_i n_i + m] on their device: the values or gradients of each p_i in order, then m
// presence flags (1 where the rank has p_i's gradient), which the all-reduce turns into counts.
#include "nn/grad_sync.h"

#include <algorithm>

#include "autograd/node.h"
#include "nn/nccl_communicator.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace mindiff::dist {

GradientSync::GradientSync(Communicator& comm, std::vector<Tensor> params, size_t bucket_bytes)
    : comm_(&comm), params_(std::move(params)) {
  MD_CHECK(!params_.empty(), "GradientSync: no parameters");
  MD_CHECK(bucket_bytes >= sizeof(float), "GradientSync: bucket of ", bucket_bytes, " bytes");
  const Device device = params_[0].device();
  for (const Tensor& p : params_)
    MD_CHECK(p.device() == device, "GradientSync: parameters on different devices");
  if (device == Device::CUDA && comm.world_size() > 1) {
    owned_ = make_nccl_communicator(comm);
    comm_ = owned_.get();
  }
  // Greedy in order: a bucket closes when the next parameter would take it past the size.
  const int64_t cap = static_cast<int64_t>(bucket_bytes / sizeof(float));
  bucket_start_.push_back(0);
  int64_t in_bucket = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t n = params_[i].numel();
    if (in_bucket > 0 && in_bucket + n > cap) {
      bucket_start_.push_back(i);
      in_bucket = 0;
    }
    in_bucket += n;
  }
  bucket_start_.push_back(params_.size());
  int64_t largest = 0;  // elements and presence flags of the largest bucket
  for (int k = 0; k < num_buckets(); ++k)
    largest = std::max(largest, bucket_numel(k) + bucket_size(k));
  flat_ = empty(Shape({largest}), device);
}

GradientSync::~GradientSync() = default;

int64_t GradientSync::bucket_numel(int k) const {
  if (k < 0 || k + 1 >= static_cast<int>(bucket_start_.size())) return 0;
  int64_t n = 0;
  for (size_t i = bucket_start_[k]; i < bucket_start_[k + 1]; ++i) n += params_[i].numel();
  return n;
}

int64_t GradientSync::bucket_size(int k) const {
  if (k < 0 || k + 1 >= static_cast<int>(bucket_start_.size())) return 0;
  return static_cast<int64_t>(bucket_start_[k + 1] - bucket_start_[k]);
}

void GradientSync::pack(int k, bool grads) {
  int64_t at = 0;
  int64_t flag = bucket_numel(k);  // the flags follow the elements
  for (size_t i = bucket_start_[k]; i < bucket_start_[k + 1]; ++i, ++flag) {
    const Tensor& p = params_[i];
    const int64_t n = p.numel();
    const Tensor src = grads ? p.grad() : p;
    if (src.defined())
      flat_.slice(0, at, at + n).copy_(src.reshape(Shape({n})));
    else
      flat_.slice(0, at, at + n).fill_(0.0f);  // no gradient on this rank: adds nothing
    if (grads) flat_.slice(0, flag, flag + 1).fill_(src.defined() ? 1.0f : 0.0f);
    at += n;
  }
}

void GradientSync::unpack(int k, bool grads) {
  const int64_t flags = bucket_numel(k);
  // How many ranks had each gradient (a few floats, read on the host).
  const std::vector<float> had = grads ? flat_.slice(0, flags, flags + bucket_size(k)).to_vector()
                                       : std::vector<float>();
  const float world = static_cast<float>(comm_->world_size());
  int64_t at = 0;
  for (size_t i = bucket_start_[k]; i < bucket_start_[k + 1]; ++i) {
    const Tensor& p = params_[i];
    const int64_t n = p.numel();
    const Tensor src = flat_.slice(0, at, at + n).reshape(p.shape());
    at += n;
    if (!grads) {
      p.copy_(src);
      continue;
    }
    if (had[i - bucket_start_[k]] == 0.0f) continue;  // no rank had one: keep none
    if (!p.grad().defined()) p.impl()->grad = zeros(p.shape(), p.device()).impl_ptr();
    // The sum over ranks times 1 / N (exact when N is a power of two).
    p.grad().copy_(src * (1.0f / world));
  }
}

void GradientSync::broadcast_parameters() {
  if (comm_->world_size() == 1) return;
  NoGradGuard no_grad;
  for (int k = 0; k < num_buckets(); ++k) {
    pack(k, /*grads=*/false);
    comm_->broadcast(flat_.data(), static_cast<size_t>(bucket_numel(k)) * sizeof(float), 0);
    unpack(k, false);
  }
}

void GradientSync::average_gradients() {
  if (comm_->world_size() == 1) return;
  NoGradGuard no_grad;
  for (int k = 0; k < num_buckets(); ++k) {
    pack(k, /*grads=*/true);
    comm_->all_reduce_sum(flat_.data(), bucket_numel(k) + bucket_size(k));  // one call per bucket
    unpack(k, true);
  }
}

}  // namespace mindiff::dist
