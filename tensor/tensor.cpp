#include "tensor/tensor.h"

#include <cstring>
#include <sstream>

#include "tensor/device_backend.h"
#include "tensor/philox.h"
#include "tensor/strided.h"

namespace mindiff {

namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.numel()), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return impl;
}

void check_cpu(const Tensor& t, const char* what) {
  MD_CHECK(t.device() == Device::CPU, what, ": tensor is on ", device_name(t.device()),
           "; this function works on CPU tensors (move it with to(Device::CPU))");
}

// Row-major element offset of `index` into t's storage view.
int64_t element_offset(const Tensor& t, std::initializer_list<int64_t> index, const char* what) {
  MD_CHECK(static_cast<int>(index.size()) == t.ndim(), what, ": index of rank ", index.size(),
           " for tensor of shape ", t.shape().str());
  int64_t off = 0;
  int axis = 0;
  for (int64_t i : index) {
    MD_CHECK(i >= 0 && i < t.shape()[axis], what, ": index ", i, " out of range for axis ", axis,
             " of shape ", t.shape().str());
    off += i * t.strides()[axis++];
  }
  return off;
}

}  // namespace

int64_t Tensor::size(int axis) const { return shape()[normalize_axis(axis, ndim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (device() != Device::CPU) {
    // Copy the whole storage to the host, then gather the view there.
    auto host = std::make_shared<Storage>(storage()->size(), Device::CPU);
    cuda::copy_to_host(host->data(), storage()->data(), storage()->size() * sizeof(float));
    auto impl = std::make_shared<TensorImpl>(*impl_);
    impl->storage = host;
    impl->grad_fn = nullptr;
    return Tensor(impl).to_vector();
  }
  const float* src = data();
  float* dst = out.data();
  std::array<Index4, 2> st{pad_shape4(contiguous_strides(shape())),
                           broadcast_strides4(shape(), strides(), shape())};
  for_each_row<2>(pad_shape4(shape()), st, [&](auto off, int64_t len, auto inc) {
    for (int64_t j = 0; j < len; ++j) dst[off[0] + j * inc[0]] = src[off[1] + j * inc[1]];
  });
  return out;
}

float Tensor::item() const {
  MD_CHECK(numel() == 1, "item: tensor of shape ", shape().str(), " has ", numel(),
           " elements, not one");
  return to_vector()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  check_cpu(*this, "at");
  return data()[element_offset(*this, index, "at")];
}

void Tensor::set(std::initializer_list<int64_t> index, float value) const {
  check_cpu(*this, "set");
  data()[element_offset(*this, index, "set")] = value;
}

std::string Tensor::str() const {
  std::ostringstream os;
  os << "tensor" << shape().str() << " {";
  std::vector<float> v = to_vector();
  const size_t kShown = 16;  // enough to recognise a small tensor without flooding a log
  for (size_t i = 0; i < v.size() && i < kShown; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > kShown) os << ", ...";
  os << "}";
  return os.str();
}

void Tensor::fill_(float value) const {
  if (device() == Device::CUDA) return fill_cuda(*this, value);
  float* dst = data();
  std::array<Index4, 1> st{broadcast_strides4(shape(), strides(), shape())};
  for_each_row<1>(pad_shape4(shape()), st, [&](auto off, int64_t len, auto inc) {
    for (int64_t j = 0; j < len; ++j) dst[off[0] + j * inc[0]] = value;
  });
}

namespace {
// dst[i] = op(dst[i], src[i]) over dst's shape, src broadcast to it (both CPU).
template <class Op>
void assign_cpu(const Tensor& dst, const Tensor& src, Op op) {
  float* d = dst.data();
  const float* s = src.data();
  std::array<Index4, 2> st{broadcast_strides4(dst.shape(), dst.strides(), dst.shape()),
                           broadcast_strides4(src.shape(), src.strides(), dst.shape())};
  for_each_row<2>(pad_shape4(dst.shape()), st, [&](auto off, int64_t len, auto inc) {
    for (int64_t j = 0; j < len; ++j) d[off[0] + j * inc[0]] = op(d[off[0] + j * inc[0]], s[off[1] + j * inc[1]]);
  });
}

// The source of an in-place write: broadcastable to dst, and read from a separate buffer when it
// shares dst's storage (overlapping views would read values already overwritten).
Tensor in_place_source(const Tensor& dst, const Tensor& src, const char* what) {
  Shape b = broadcast_shapes(dst.shape(), src.shape(), what);
  MD_CHECK(b == dst.shape(), what, ": source of shape ", src.shape().str(),
           " does not broadcast to destination shape ", dst.shape().str());
  return src.storage() == dst.storage() ? src.detach().contiguous() : src;
}
}  // namespace

void Tensor::copy_(const Tensor& src) const {
  // From another device: bring the source here first (a contiguous copy).
  if (src.device() != device()) {
    in_place_source(*this, src, "copy_");
    return copy_(src.detach().to(device()));
  }
  Tensor from = in_place_source(*this, src, "copy_");
  if (device() == Device::CUDA) return copy_cuda(*this, from);
  assign_cpu(*this, from, [](float, float v) { return v; });
}

void Tensor::add_(const Tensor& src) const {
  MD_CHECK(src.device() == device(), "add_: source on ", device_name(src.device()),
           " for a tensor on ", device_name(device()));
  Tensor from = in_place_source(*this, src, "add_");
  if (device() == Device::CUDA) return add_into_cuda(*this, from);
  assign_cpu(*this, from, [](float d, float v) { return d + v; });
}

const Tensor& Tensor::requires_grad_(bool on) const {
  MD_CHECK(is_leaf(), "requires_grad_: only leaf tensors (not results of ops) can be marked; ",
           "call detach() first");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  return Tensor(impl);
}

// ---- creation ----

Tensor empty(const Shape& shape, Device device) { return Tensor(make_impl(shape, device)); }

Tensor full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }
Tensor ones(const Shape& shape, Device device) { return full(shape, 1.0f, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.device()); }

Tensor arange(int64_t n) {
  MD_CHECK(n >= 0, "arange: negative length ", n);
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

Tensor arange(float start, float end, float step) {
  MD_CHECK(step != 0.0f, "arange: step must be non-zero");
  double count = std::ceil((static_cast<double>(end) - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(start + static_cast<double>(step) * i);
  return t;
}

Tensor from_data(const std::vector<float>& values, const Shape& shape) {
  MD_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_data: ", values.size(),
           " values for shape ", shape.str(), " (", shape.numel(), " elements)");
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor scalar_tensor(float value) { return from_data({value}, Shape{}); }

Tensor as_strided(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  MD_CHECK(shape.ndim() == strides.ndim(), "as_strided: shape ", shape.str(), " and strides ",
           strides.str(), " differ in rank");
  // Bounds: the lowest and highest element reached must lie inside the storage.
  int64_t hi = offset, lo = offset;
  for (int i = 0; i < shape.ndim(); ++i) {
    MD_CHECK(shape[i] >= 0, "as_strided: negative extent in shape ", shape.str());
    if (shape[i] == 0) { hi = lo = offset; break; }
    int64_t reach = (shape[i] - 1) * strides[i];
    (reach >= 0 ? hi : lo) += reach;
  }
  MD_CHECK(lo >= 0 && (shape.numel() == 0 || hi < static_cast<int64_t>(base.storage()->size())),
           "as_strided: view of shape ", shape.str(), " strides ", strides.str(), " offset ",
           offset, " reaches outside a storage of ", base.storage()->size(), " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  return Tensor(impl);
}

// ---- randomness ----

namespace {
// Element i of `shape` is element index0 + i of a draw of `total` values starting at gen.offset,
// which moves past all `total` (a plain draw: index0 = 0, total = numel).
template <class Draw>
Tensor random_fill(const Shape& shape, Generator& gen, Device device, uint64_t per_block, Draw draw,
                   uint64_t index0, uint64_t total) {
  const uint64_t first = gen.offset, seed = gen.seed;
  const int64_t n = shape.numel();
  gen.offset += (total + per_block - 1) / per_block;
  if (device == Device::CUDA) {  // the same numbers, computed on the device (cuda/random.cu)
    if (index0 % per_block != 0) {  // a slice that starts inside a block: drawn here, copied
      Generator here(seed, first);
      return random_fill(shape, here, Device::CPU, per_block, draw, index0, total).to(device);
    }
    Tensor t = empty(shape, device);
    const bool normal = per_block == 2;  // randn: two normals per block; rand: four uniforms
    random_fill_cuda(t, seed, first + index0 / per_block, normal);
    return t;
  }
  Tensor t = empty(shape, device);
  float* out = t.data();
#pragma omp parallel for schedule(static) if (n >= 16384)
  for (int64_t i = 0; i < n; ++i) out[i] = draw(seed, first, index0 + static_cast<uint64_t>(i));
  return t;
}

// Rows [first_row, first_row + shape[0]) of a draw of total_rows rows of shape[1:] each.
template <class Draw>
Tensor random_rows(const Shape& shape, Generator& gen, int64_t first_row, int64_t total_rows,
                   Device device, uint64_t per_block, Draw draw) {
  MD_CHECK(shape.ndim() >= 1 && first_row >= 0 && first_row + shape[0] <= total_rows,
           "random rows: rows [", first_row, ", ", first_row + (shape.ndim() ? shape[0] : 0),
           ") of shape ", shape.str(), " are not inside a draw of ", total_rows, " rows");
  const uint64_t per_row = static_cast<uint64_t>(shape[0] > 0 ? shape.numel() / shape[0] : 0);
  return random_fill(shape, gen, device, per_block, draw, static_cast<uint64_t>(first_row) * per_row,
                     static_cast<uint64_t>(total_rows) * per_row);
}
}  // namespace

Tensor randn(const Shape& shape, Generator& gen, Device device) {
  return random_fill(shape, gen, device, 2, philox_normal_at, 0, static_cast<uint64_t>(shape.numel()));
}
Tensor rand(const Shape& shape, Generator& gen, Device device) {
  return random_fill(shape, gen, device, 4, philox_uniform_at, 0, static_cast<uint64_t>(shape.numel()));
}
Tensor randn_rows(const Shape& shape, Generator& gen, int64_t first_row, int64_t total_rows,
                  Device device) {
  return random_rows(shape, gen, first_row, total_rows, device, 2, philox_normal_at);
}
Tensor rand_rows(const Shape& shape, Generator& gen, int64_t first_row, int64_t total_rows,
                 Device device) {
  return random_rows(shape, gen, first_row, total_rows, device, 4, philox_uniform_at);
}
Tensor randn(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, g);
}
Tensor rand(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return rand(shape, g);
}

}  // namespace mindiff
