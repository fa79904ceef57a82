// Tensor::to(device): copying a tensor between the CPU and the CUDA device.
//   forward:  y = x on the other device (contiguous)
//   backward: dx = dout moved back to x's device
#include "tensor/device_backend.h"
#include "tensor/ops/common.h"

namespace mindiff {

namespace {

const OpInfo kToDevice("to_device");

}  // namespace

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  // One contiguous block on the source device, copied in one transfer.
  const Tensor src = detach().contiguous();
  Tensor out = empty(shape(), target);
  const size_t bytes = static_cast<size_t>(numel()) * sizeof(float);
  if (bytes > 0) {
    if (target == Device::CUDA)
      cuda::copy_to_device(out.data(), src.data(), bytes);
    else
      cuda::copy_to_host(out.data(), src.data(), bytes);
  }
  if (needs_grad({*this}))
    record(kToDevice, out, {*this}, [source = device()](const Tensor& dout) {
      return std::vector<Tensor>{dout.to(source)};
    });
  return out;
}

void Tensor::move_to_(Device target) const {
  MD_CHECK(is_leaf(), "move_to_: only leaf tensors (parameters, data) can be moved in place");
  if (device() == target) return;
  const Tensor moved = detach().to(target);
  impl_->storage = moved.storage();
  impl_->strides = moved.strides();
  impl_->offset = 0;
  impl_->grad.reset();
}

}  // namespace mindiff
