// Tensor: a view (shape, strides in elements, offset) into a refcounted Storage, plus the
// autograd fields. Copying a Tensor copies the handle: both copies are the same tensor, as in
// PyTorch. The tensor core does no math; ops live in tensor/ops/, autograd in autograd/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace mindiff {

struct Node;  // autograd/node.h

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements; 0 along broadcast (expanded) axes
  int64_t offset = 0;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;          // the op that made this tensor (null for leaves)
  std::shared_ptr<TensorImpl> grad;       // accumulated by backward() on leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int ndim() const { return impl_->shape.ndim(); }
  int64_t size(int axis) const;  // negative axes count from the end
  int64_t numel() const { return impl_->shape.numel(); }
  Device device() const { return impl_->storage->device(); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  bool is_contiguous() const;
  bool same_as(const Tensor& o) const { return impl_ == o.impl_; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Raw pointer to element [0,0,...] (storage data + offset). CPU kernels index it with strides().
  float* data() const { return impl_->storage->data() + impl_->offset; }

  // Copies the elements out to the host in logical row-major order (any device, any strides).
  std::vector<float> to_vector() const;
  float item() const;                                  // the single element of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;  // one element by index (slow; for tests)
  std::string str() const;                             // shape and values, for messages and debugging

  // In-place writes through this view (visible in every tensor sharing the storage). They are not
  // recorded by autograd; use them on data, not inside a differentiable computation.
  void set(std::initializer_list<int64_t> index, float value) const;
  void fill_(float value) const;
  void copy_(const Tensor& src) const;  // src is broadcast to this shape
  void add_(const Tensor& src) const;   // this += src, src broadcast; same device

  // ---- autograd (autograd/) ----
  bool requires_grad() const { return impl_->requires_grad; }
  // Marks a leaf as a parameter to differentiate with respect to. Returns *this.
  const Tensor& requires_grad_(bool on = true) const;
  Tensor grad() const { return Tensor(impl_->grad); }  // undefined until backward() reaches it
  void zero_grad() const { impl_->grad.reset(); }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  // Same storage and view, cut from the graph: no grad_fn, requires_grad false.
  Tensor detach() const;
  // Reverse-mode differentiation from this tensor; `dout` defaults to 1 for a one-element tensor.
  void backward(const Tensor& dout = Tensor()) const;

  // ---- views (differentiable; defined in tensor/ops/view.cpp) ----
  Tensor reshape(const Shape& shape) const;  // one extent may be -1; copies only if not viewable
  Tensor view(const Shape& shape) const;     // like reshape but never copies (throws instead)
  Tensor permute(const std::vector<int>& axes) const;
  Tensor transpose(int a, int b) const;
  Tensor slice(int axis, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor expand(const Shape& shape) const;   // broadcast to `shape` without copying (stride 0)
  Tensor contiguous() const;                 // itself if already contiguous, else a copy

  // ---- devices (differentiable; defined in tensor/ops/device.cpp) ----
  // This tensor on `device`: itself if it is there already, else a contiguous copy there. The
  // gradient flows back to the original device.
  Tensor to(Device device) const;
  // Moves this leaf's data to `device` in place (contiguous there), so that every handle to the
  // tensor sees it: for parameters, which a module holds both as members and in its list. Its
  // gradient is dropped. Not recorded by autograd.
  void move_to_(Device device) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation (CPU unless a device is given) ----
Tensor empty(const Shape& shape, Device device = Device::CPU);
Tensor zeros(const Shape& shape, Device device = Device::CPU);
Tensor ones(const Shape& shape, Device device = Device::CPU);
Tensor full(const Shape& shape, float value, Device device = Device::CPU);
Tensor arange(int64_t n);                                    // 0, 1, ..., n-1
Tensor arange(float start, float end, float step = 1.0f);  // [start, end)
Tensor from_data(const std::vector<float>& values, const Shape& shape);
Tensor scalar_tensor(float value);                          // rank 0
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// A view over `base`'s storage with the given geometry (no checks beyond bounds; no autograd).
Tensor as_strided(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

// ---- randomness: counter-based (tensor/philox.h), identical on every device ----
// A Generator is a seed plus a position; each draw takes fresh blocks and advances the position.
struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;  // next unused Philox block
  explicit Generator(uint64_t s = 0, uint64_t off = 0) : seed(s), offset(off) {}
};
Tensor randn(const Shape& shape, Generator& gen, Device device = Device::CPU);
Tensor rand(const Shape& shape, Generator& gen, Device device = Device::CPU);  // uniform (0, 1]
Tensor randn(const Shape& shape, uint64_t seed);  // a fresh Generator(seed)
Tensor rand(const Shape& shape, uint64_t seed);
// Rows [first_row, first_row + shape[0]) of the draw randn (rand) would make for the whole
// [total_rows, shape[1:]...], advancing gen past that whole draw: one process's share of a batch
// drawn for several (data-parallel training), the same numbers however the rows are split.
Tensor randn_rows(const Shape& shape, Generator& gen, int64_t first_row, int64_t total_rows,
                  Device device = Device::CPU);
Tensor rand_rows(const Shape& shape, Generator& gen, int64_t first_row, int64_t total_rows,
                 Device device = Device::CPU);

}  // namespace mindiff
