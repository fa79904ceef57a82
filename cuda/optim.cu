// Optimizer updates on the GPU (see optim.h): one thread per parameter element, applying the
// same inline function as the CPU loop (tensor/ops/optim_math.h). sqrtf and division are
// correctly rounded on both, so a step gives the CPU's numbers up to where a compiler fused a
// multiply-add into one rounding (g++ and nvcc each choose their own). The constants of the
// step (learning rate, bias corrections) are computed once on the host and passed by value.
//
// The multi-tensor updates (*_update_all_cuda) apply the same rules to a list of tensors in one
// launch: a block per chunk of kMultiTensorChunk elements of the list's index space
// (tensor/ops/multi_tensor_geometry.h), its slot found by a binary search in the device table
// (every thread of the block searches: the same few table entries, read by all at once), then a
// thread per element as above. Each element sees the same function with the same inputs as in the
// per-tensor kernels, so the results are those kernels' bit for bit.
#include "cuda/optim.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, SgdConsts c) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride()) {
    float unused = 0.0f;  // stands in for the momentum buffer when momentum is 0 (never read)
    sgd_update_f(p[k], g[k], buf ? buf[k] : unused, c);
  }
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamConsts c) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride())
    adam_update_f(p[k], g[k], m[k], v[k], c);
}

__global__ void ema_kernel(float* shadow, const float* p, int64_t n, float one_minus_decay) {
  for (int64_t k = cuda::first_index(); k < n; k += cuda::grid_stride())
    ema_update_f(shadow[k], p[k], one_minus_decay);
}

// ---- multi-tensor updates ----

// The gradients of one launch's slots (slot first + j has g[j]), by value in the launch.
struct GradPointers {
  const float* g[kMultiTensorGradsPerLaunch];
  __device__ const float* operator[](int j) const { return g[j]; }
};
struct NoGrads {  // the EMA's: no gradients
  __device__ const float* operator[](int) const { return nullptr; }
};

struct AdamRule {
  AdamConsts c;
  __device__ void operator()(const MultiTensorSlot& s, const float* g, int64_t k) const {
    adam_update_f(s.p[k], g[k], s.s0[k], s.s1[k], c);
  }
};
struct SgdRule {
  SgdConsts c;
  __device__ void operator()(const MultiTensorSlot& s, const float* g, int64_t k) const {
    float unused = 0.0f;  // stands in for the momentum buffer when momentum is 0 (never read)
    sgd_update_f(s.p[k], g[k], s.s0 ? s.s0[k] : unused, c);
  }
};
struct EmaRule {  // p is the shadow, s0 the parameter
  float one_minus_decay;
  __device__ void operator()(const MultiTensorSlot& s, const float*, int64_t k) const {
    ema_update_f(s.p[k], s.s0[k], one_minus_decay);
  }
};

// Chunks [first_chunk, first_chunk + chunks) of the `count` slots at `slots`, grid-stride over
// the chunks; rule(slot, its gradient, element) for every element of each.
template <class Rule, class Grads>
__global__ void multi_tensor_kernel(const MultiTensorSlot* slots, int count, int64_t first_chunk,
                                    int64_t chunks, Grads grads, Rule rule) {
  for (int64_t k = blockIdx.x; k < chunks; k += gridDim.x) {
    const int64_t chunk = first_chunk + k;
    const int j = multi_tensor_find_slot(slots, count, chunk);
    const MultiTensorSlot s = slots[j];
    const float* g = grads[j];
    const int64_t begin = (chunk - s.first_chunk) * kMultiTensorChunk;
    const int64_t end = begin + kMultiTensorChunk < s.n ? begin + kMultiTensorChunk : s.n;
    for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) rule(s, g, e);
  }
}

float* data_or_null(const Tensor& t) { return t.defined() && t.numel() > 0 ? t.data() : nullptr; }

// ---- clipping by global norm ----

// Up to kClipTensorsPerLaunch tensors of the list, by value in the launch: slot j is a tensor
// (p, n) whose chunks are numbered from first_chunk over the whole list; end_chunk follows the
// last slot's.
struct ClipList {
  MultiTensorSlot slots[kClipTensorsPerLaunch];
  int count;
  int64_t end_chunk;
};

// Chunk k of the list, as a slot and the element range [begin, end) of it.
__device__ __forceinline__ const MultiTensorSlot& clip_chunk(const ClipList& list, int64_t k,
                                                             int64_t& begin, int64_t& end) {
  const MultiTensorSlot& s = list.slots[multi_tensor_find_slot(list.slots, list.count, k)];
  begin = (k - s.first_chunk) * kMultiTensorChunk;
  end = begin + kMultiTensorChunk < s.n ? begin + kMultiTensorChunk : s.n;
  return s;
}

// partial[k] = sum of x^2 over chunk k, in double, for the chunks of `list`.
__global__ void chunk_sum_squares_kernel(ClipList list, double* partial) {
  const int64_t first = list.slots[0].first_chunk;
  for (int64_t k = first + blockIdx.x; k < list.end_chunk; k += gridDim.x) {
    int64_t begin, end;
    const MultiTensorSlot& s = clip_chunk(list, k, begin, end);
    double acc = 0.0;
    for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x)
      acc += static_cast<double>(s.p[e]) * s.p[e];
    acc = cuda::block_all_reduce(acc, cuda::SumOp<double>(), 0.0);
    if (threadIdx.x == 0) partial[k] = acc;
  }
}

// One block: norm = sqrt(sum of the partials), in double in a fixed order, and the factor the
// CPU's rule gives (tensor/ops/optim.h): out = {norm, factor}.
__global__ void clip_factor_kernel(const double* partial, int64_t chunks, float max_norm, float* out) {
  double acc = 0.0;
  for (int64_t k = threadIdx.x; k < chunks; k += blockDim.x) acc += partial[k];
  acc = cuda::block_all_reduce(acc, cuda::SumOp<double>(), 0.0);
  if (threadIdx.x == 0) {
    const double norm = sqrt(acc);
    out[0] = static_cast<float>(norm);
    out[1] = clip_factor(norm, max_norm);
  }
}

// x *= factor over the chunks of `list`; nothing to do (the usual case) when the factor is 1.
__global__ void chunk_scale_kernel(ClipList list, const float* factor) {
  const float f = *factor;
  if (f == 1.0f) return;
  const int64_t first = list.slots[0].first_chunk;
  for (int64_t k = first + blockIdx.x; k < list.end_chunk; k += gridDim.x) {
    int64_t begin, end;
    const MultiTensorSlot& s = clip_chunk(list, k, begin, end);
    for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) s.p[e] *= f;
  }
}

bool same_slot(const MultiTensorSlot& a, const MultiTensorSlot& b) {
  return a.p == b.p && a.s0 == b.s0 && a.s1 == b.s1 && a.n == b.n && a.first_chunk == b.first_chunk;
}

// The device copy of `slots` (their first_chunk filled in here): table.device as it is when the
// slots equal table.slots, else uploaded anew (the one host -> device copy of this path).
// Returns the total number of chunks.
int64_t sync_table(MultiTensorTable& table, std::vector<MultiTensorSlot> slots) {
  int64_t chunks = 0;
  for (MultiTensorSlot& s : slots) {
    s.first_chunk = chunks;
    chunks += multi_tensor_chunks(s.n);
  }
  const bool same = table.device.defined() && slots.size() == table.slots.size() &&
                    std::equal(slots.begin(), slots.end(), table.slots.begin(), same_slot);
  if (same || chunks == 0) return chunks;
  const size_t bytes = slots.size() * sizeof(MultiTensorSlot);
  std::vector<float> raw((bytes + sizeof(float) - 1) / sizeof(float));
  std::memcpy(raw.data(), slots.data(), bytes);
  table.device = from_data(raw, {static_cast<int64_t>(raw.size())}).to(Device::CUDA);
  table.slots = std::move(slots);
  ++table.uploads;
  return chunks;
}

unsigned chunk_blocks(int64_t chunks) {
  return static_cast<unsigned>(std::min<int64_t>(chunks, 65535));
}

// One launch per kMultiTensorGradsPerLaunch slots, each with its slots' gradients.
template <class Rule>
void launch_with_grads(const char* name, MultiTensorTable& table,
                       std::vector<MultiTensorSlot> slots, const std::vector<Tensor>& g, Rule rule) {
  const int64_t chunks = sync_table(table, std::move(slots));
  if (chunks == 0) return;
  const MultiTensorSlot* dev = reinterpret_cast<const MultiTensorSlot*>(table.device.data());
  const int count = static_cast<int>(table.slots.size());
  for (int first = 0; first < count; first += kMultiTensorGradsPerLaunch) {
    const int n = std::min(kMultiTensorGradsPerLaunch, count - first);
    GradPointers grads{};
    for (int j = 0; j < n; ++j) grads.g[j] = data_or_null(g[first + j]);
    const int64_t begin = table.slots[first].first_chunk;
    const int64_t end = first + n < count ? table.slots[first + n].first_chunk : chunks;
    if (end == begin) continue;  // only empty tensors
    cuda::launch(name, &multi_tensor_kernel<Rule, GradPointers>, chunk_blocks(end - begin),
                 cuda::kBlockThreads, 0, dev + first, n, begin, end - begin, grads, rule);
  }
}

}  // namespace

void sgd_update_cuda(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(sgd_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, p.data(), g.data(),
            momentum.defined() ? momentum.data() : nullptr, n, c);
}

void adam_update_cuda(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamConsts& c) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(adam_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, p.data(), g.data(),
            exp_avg.data(), exp_avg_sq.data(), n, c);
}

void ema_update_cuda(const Tensor& shadow, const Tensor& p, float one_minus_decay) {
  const int64_t n = p.numel();
  if (n == 0) return;
  MD_LAUNCH(ema_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, shadow.data(), p.data(), n,
            one_minus_decay);
}

void adam_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& p,
                          const std::vector<Tensor>& g, const std::vector<Tensor>& exp_avg,
                          const std::vector<Tensor>& exp_avg_sq, const AdamConsts& c) {
  std::vector<MultiTensorSlot> slots;
  for (size_t i = 0; i < p.size(); ++i)
    slots.push_back({data_or_null(p[i]), data_or_null(exp_avg[i]), data_or_null(exp_avg_sq[i]),
                     p[i].numel(), 0});
  launch_with_grads("multi_tensor_kernel<AdamRule>", table, std::move(slots), g, AdamRule{c});
}

void sgd_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& p,
                         const std::vector<Tensor>& g, const std::vector<Tensor>& momentum,
                         const SgdConsts& c) {
  std::vector<MultiTensorSlot> slots;
  for (size_t i = 0; i < p.size(); ++i)
    slots.push_back({data_or_null(p[i]), momentum.empty() ? nullptr : data_or_null(momentum[i]),
                     nullptr, p[i].numel(), 0});
  launch_with_grads("multi_tensor_kernel<SgdRule>", table, std::move(slots), g, SgdRule{c});
}

void ema_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& shadow,
                         const std::vector<Tensor>& p, float one_minus_decay) {
  std::vector<MultiTensorSlot> slots;
  for (size_t i = 0; i < p.size(); ++i)
    slots.push_back({data_or_null(shadow[i]), data_or_null(p[i]), nullptr, p[i].numel(), 0});
  const int64_t chunks = sync_table(table, std::move(slots));
  if (chunks == 0) return;
  cuda::launch("multi_tensor_kernel<EmaRule>", &multi_tensor_kernel<EmaRule, NoGrads>,
               chunk_blocks(chunks), cuda::kBlockThreads, 0,
               reinterpret_cast<const MultiTensorSlot*>(table.device.data()),
               static_cast<int>(table.slots.size()), int64_t{0}, chunks, NoGrads{},
               EmaRule{one_minus_decay});
}

Tensor clip_global_norm_cuda_(const std::vector<Tensor>& xs, float max_norm) {
  std::vector<ClipList> lists;
  int64_t chunks = 0;
  for (size_t i = 0; i < xs.size(); i += kClipTensorsPerLaunch) {
    ClipList list{};
    list.count = static_cast<int>(std::min<size_t>(kClipTensorsPerLaunch, xs.size() - i));
    for (int j = 0; j < list.count; ++j) {
      const Tensor& x = xs[i + j];
      list.slots[j] = {data_or_null(x), nullptr, nullptr, x.numel(), chunks};
      chunks += multi_tensor_chunks(x.numel());
    }
    list.end_chunk = chunks;
    if (list.end_chunk > list.slots[0].first_chunk) lists.push_back(list);  // else only empty tensors
  }
  Tensor partial = empty({2 * std::max<int64_t>(chunks, 1)}, Device::CUDA);  // doubles
  double* sums = reinterpret_cast<double*>(partial.data());
  Tensor out = empty({2}, Device::CUDA);  // {norm, factor}
  auto blocks = [](const ClipList& list) {
    return chunk_blocks(list.end_chunk - list.slots[0].first_chunk);
  };
  for (const ClipList& list : lists)
    MD_LAUNCH(chunk_sum_squares_kernel, blocks(list), cuda::kBlockThreads, 0, list, sums);
  MD_LAUNCH(clip_factor_kernel, 1, cuda::kBlockThreads, 0, sums, chunks, max_norm, out.data());
  for (const ClipList& list : lists)
    MD_LAUNCH(chunk_scale_kernel, blocks(list), cuda::kBlockThreads, 0, list, out.data() + 1);
  return out.slice(0, 0, 1).reshape(Shape({}));
}

}  // namespace mindiff
