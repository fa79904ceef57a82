// The CUDA emulator, kernel side: what a .cu file sees when g++ compiles it (cuda/kernel.h
// includes this instead of <cuda_runtime.h>).
//
// Execution model (cuda/emu/runtime.cpp):
//   - The blocks of a grid run one after another on a CPU thread (blocks of a large grid are
//     shared among OpenMP threads; a block never leaves the CPU thread it started on).
//   - The threads of a block are fibers (cuda/emu/fiber.h) on that CPU thread: one runs at a
//     time, until it waits at a barrier or returns. __syncthreads() parks the fiber until every
//     thread of the block has arrived; warp operations park it until every lane named in the
//     mask has arrived. Each pass over the block resumes the runnable threads in turn, in
//     ascending order on one pass and descending on the next.
//   - Built-in variables (threadIdx, ...) are per-CPU-thread values that the scheduler sets
//     before resuming a fiber.
//
// Shared memory (MD_SHARED, see cuda/kernel.h) is allocated per block, filled with NaN bytes at
// the start of the block (real shared memory starts with garbage, not zeros), and watched: every
// element records the thread that last wrote it and the threads that read it, with the number of
// barriers the block had passed. Two accesses to one element by different threads, at least one
// a write, with no barrier between them, are a race, whatever order the fibers happened to run
// in; reading an element no thread wrote is an error too. Both throw a mindiff::Error naming the
// kernel, the array, the element and the threads. See "Race detection" in runtime.cpp.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- what <cuda_runtime.h> would declare ----

struct uint3 {
  unsigned x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define MD_UNROLL
// `__shared__` is deliberately left undefined: declare shared arrays with MD_SHARED so that the
// emulator can watch them.

constexpr int warpSize = 32;

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

namespace mindiff::cuda::emu {

// ---- built-in variables ----

struct Builtins {
  uint3 thread_idx{0, 0, 0};
  uint3 block_idx{0, 0, 0};
  dim3 block_dim;
  dim3 grid_dim;
  int lane = 0;  // linear thread index % 32
};
extern thread_local Builtins tls_builtins;
inline const uint3& thread_idx() { return tls_builtins.thread_idx; }
inline const uint3& block_idx() { return tls_builtins.block_idx; }
inline const dim3& block_dim() { return tls_builtins.block_dim; }
inline const dim3& grid_dim() { return tls_builtins.grid_dim; }

}  // namespace mindiff::cuda::emu

#define threadIdx (::mindiff::cuda::emu::thread_idx())
#define blockIdx (::mindiff::cuda::emu::block_idx())
#define blockDim (::mindiff::cuda::emu::block_dim())
#define gridDim (::mindiff::cuda::emu::grid_dim())

namespace mindiff::cuda::emu {

// ---- barriers and warps (runtime.cpp) ----

void sync_threads();
// Every lane in `mask` deposits `value` and, once all have arrived, sees all deposits:
// values[lane] for each lane in the returned mask (the lanes in `mask` that exist in the block).
unsigned warp_gather(unsigned mask, uint64_t value, uint64_t (&values)[32]);
[[noreturn]] void fail_warp(const char* op, unsigned mask, int src_lane);
[[noreturn]] void fail_width(const char* op, int width);

template <class T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move up to 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

// A shuffle: every lane of `mask` offers `var`; this lane gets the value of lane src(lane), or
// keeps its own where src returns the lane itself. `width` splits the warp into segments.
template <class T, class Src>
T shuffle(const char* op, unsigned mask, T var, int width, Src src) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) fail_width(op, width);
  uint64_t values[32];
  const unsigned present = warp_gather(mask, to_bits(var), values);
  const int lane = tls_builtins.lane;
  const int from = src(lane);
  if (from == lane) return var;
  if (!((present >> from) & 1u)) fail_warp(op, mask, from);
  return from_bits<T>(values[from]);
}

// ---- shared memory ----

// What the emulator knows about one element of shared memory in the current block. Epochs count
// completed barriers: the block's __syncthreads(), and each warp's own warp-level operations.
struct ShadowWord {
  int32_t writer;            // linear index of the thread that last wrote it; -1: not written yet
  uint32_t write_epoch;      // block epoch of that write
  uint32_t write_warp_epoch; // the writer's warp epoch at that write
  int32_t reader;            // a thread that read it in read_epoch; -1: none
  int32_t reader_warp;       // the warp of all those readers, or -2 when they span warps
  uint32_t read_epoch;       // block epoch of the reads recorded
  uint32_t read_warp_epoch;  // the readers' warp epoch at the latest of those reads
  int32_t other_reader;      // a second thread that read it in read_epoch; -1: none
};

struct SharedInfo {
  const char* name;  // the array's name in the kernel source
  int64_t cols;      // row length of a 2-D array (for messages), 0 for 1-D
};

// Every access also goes to the bank-conflict count when it is on (cuda/emu/traffic.h): p is the
// element, `bytes` its size.
void check_read(ShadowWord& w, const SharedInfo& info, int64_t index, const void* p, int bytes);
void check_write(ShadowWord& w, const SharedInfo& info, int64_t index, const void* p, int bytes);
// The running thread's next `elements` accesses are one vector access (load_shared4).
void begin_vector_access(int elements);
[[noreturn]] void fail_bounds(const SharedInfo& info, int64_t index, int64_t count);
[[noreturn]] void fail_misaligned(const char* op, int64_t index);

// One element of shared memory: reads and writes go through the race checks.
template <class T>
class SharedRef {
 public:
  SharedRef(T* p, ShadowWord* w, SharedInfo info, int64_t index)
      : p_(p), w_(w), info_(info), index_(index) {}
  SharedRef(const SharedRef&) = default;
  operator T() const {
    check_read(*w_, info_, index_, p_, sizeof(T));
    return *p_;
  }
  SharedRef& operator=(T v) {
    check_write(*w_, info_, index_, p_, sizeof(T));
    *p_ = v;
    return *this;
  }
  SharedRef& operator=(const SharedRef& o) { return *this = static_cast<T>(o); }
  SharedRef& operator+=(T v) { return *this = static_cast<T>(*this) + v; }
  SharedRef& operator-=(T v) { return *this = static_cast<T>(*this) - v; }
  SharedRef& operator*=(T v) { return *this = static_cast<T>(*this) * v; }

 private:
  T* p_;
  ShadowWord* w_;
  SharedInfo info_;
  int64_t index_;
};

// A bounds-checked run of shared elements: a 1-D array, one row of a 2-D array, or the dynamic
// region. This is SharedPtr<T> in kernel code.
template <class T>
class SharedSpan {
 public:
  SharedSpan(T* data, ShadowWord* shadow, int64_t count, SharedInfo info, int64_t base = 0)
      : data_(data), shadow_(shadow), count_(count), info_(info), base_(base) {}
  SharedRef<T> operator[](int64_t i) const {
    if (i < 0 || i >= count_) fail_bounds(info_, base_ + i, base_ + count_);
    return SharedRef<T>(data_ + i, shadow_ + i, info_, base_ + i);
  }

 private:
  T* data_;
  ShadowWord* shadow_;
  int64_t count_;
  SharedInfo info_;
  int64_t base_;  // flat index of element 0 in its array (for messages)
};

template <class T>
class SharedMatrix {
 public:
  SharedMatrix(T* data, ShadowWord* shadow, int64_t rows, int64_t cols, const char* name)
      : data_(data), shadow_(shadow), rows_(rows), cols_(cols), name_(name) {}
  SharedSpan<T> operator[](int64_t r) const {
    if (r < 0 || r >= rows_) fail_bounds(SharedInfo{name_, cols_}, r * cols_, rows_ * cols_);
    return SharedSpan<T>(data_ + r * cols_, shadow_ + r * cols_, cols_, SharedInfo{name_, cols_},
                         r * cols_);
  }

 private:
  T* data_;
  ShadowWord* shadow_;
  int64_t rows_, cols_;
  const char* name_;
};

// The per-CPU-thread handle of one static shared array declaration: the block it was last
// allocated for, and where. Zero-initialised, so a function-local `static thread_local` needs
// no guard.
struct SharedSlot {
  uint64_t block_serial;
  void* data;
  ShadowWord* shadow;
};

// Storage for a static array of `count` elements of `elem_bytes` in the current block (the same
// for every thread of the block: the first thread to get here allocates it).
void shared_static(SharedSlot& slot, size_t count, size_t elem_bytes, const char* name);
// The dynamic region (the launch's shared_bytes), as `count` 4-byte elements.
void* shared_dynamic(ShadowWord** shadow, int64_t* count);

template <class T>
SharedSpan<T> shared_array(SharedSlot& slot, int64_t n, const char* name) {
  shared_static(slot, static_cast<size_t>(n), sizeof(T), name);
  return SharedSpan<T>(static_cast<T*>(slot.data), slot.shadow, n, SharedInfo{name, 0});
}
template <class T>
SharedMatrix<T> shared_matrix(SharedSlot& slot, int64_t rows, int64_t cols, const char* name) {
  shared_static(slot, static_cast<size_t>(rows * cols), sizeof(T), name);
  return SharedMatrix<T>(static_cast<T*>(slot.data), slot.shadow, rows, cols, name);
}
template <class T>
SharedSpan<T> shared_dynamic_array(const char* name) {
  static_assert(sizeof(T) == 4, "dynamic shared memory holds 4-byte elements in the emulator");
  ShadowWord* shadow;
  int64_t count;
  T* data = static_cast<T*>(shared_dynamic(&shadow, &count));
  return SharedSpan<T>(data, shadow, count, SharedInfo{name, 0});
}

// ---- launching (runtime.cpp) ----

using Invoke = void (*)(const void* closure);
// Runs `invoke(closure)` once per thread of every block, with CUDA's limits on the configuration.
void run_grid(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, Invoke invoke,
              const void* closure);

}  // namespace mindiff::cuda::emu

#define MD_SHARED(type, name, n)                              \
  static thread_local ::mindiff::cuda::emu::SharedSlot name##_md_slot; \
  const ::mindiff::cuda::emu::SharedSpan<type> name =         \
      ::mindiff::cuda::emu::shared_array<type>(name##_md_slot, (n), #name)
#define MD_SHARED_2D(type, name, rows, cols)                  \
  static thread_local ::mindiff::cuda::emu::SharedSlot name##_md_slot; \
  const ::mindiff::cuda::emu::SharedMatrix<type> name =       \
      ::mindiff::cuda::emu::shared_matrix<type>(name##_md_slot, (rows), (cols), #name)
#define MD_SHARED_DYNAMIC(type, name) \
  const ::mindiff::cuda::emu::SharedSpan<type> name = \
      ::mindiff::cuda::emu::shared_dynamic_array<type>(#name)

// ---- CUDA intrinsics ----

inline void __syncthreads() { ::mindiff::cuda::emu::sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  uint64_t values[32];
  ::mindiff::cuda::emu::warp_gather(mask, 0, values);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  // Lane src_lane of this lane's segment (src_lane taken modulo width).
  return ::mindiff::cuda::emu::shuffle("__shfl_sync", mask, var, width, [&](int lane) {
    return (lane & ~(width - 1)) + (src_lane & (width - 1));
  });
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  // Lane - delta; lanes within delta of their segment's start keep their own value.
  return ::mindiff::cuda::emu::shuffle("__shfl_up_sync", mask, var, width, [&](int lane) {
    return (lane & (width - 1)) < static_cast<int>(delta) ? lane : lane - static_cast<int>(delta);
  });
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  // Lane + delta; lanes within delta of their segment's end keep their own value.
  return ::mindiff::cuda::emu::shuffle("__shfl_down_sync", mask, var, width, [&](int lane) {
    return (lane & (width - 1)) + static_cast<int>(delta) >= width ? lane
                                                                   : lane + static_cast<int>(delta);
  });
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  // Lane ^ lane_mask; a lane of a later segment is out of reach (own value).
  return ::mindiff::cuda::emu::shuffle("__shfl_xor_sync", mask, var, width, [&](int lane) {
    const int from = lane ^ lane_mask;
    return from >= (lane & ~(width - 1)) + width ? lane : from;
  });
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  uint64_t values[32];
  const unsigned present = ::mindiff::cuda::emu::warp_gather(mask, predicate != 0, values);
  unsigned bits = 0;
  for (int l = 0; l < 32; ++l)
    if (((present >> l) & 1u) && values[l]) bits |= 1u << l;
  return bits;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  uint64_t values[32];
  const unsigned present = ::mindiff::cuda::emu::warp_gather(mask, predicate != 0, values);
  for (int l = 0; l < 32; ++l)
    if (((present >> l) & 1u) && !values[l]) return 0;
  return 1;
}

// Atomics on global memory. Blocks may run on different CPU threads, so these are real atomic
// read-modify-writes (a compare-and-swap loop for floats); within a block they could not
// interleave anyway, since a fiber is never interrupted.
template <class T, class F>
T md_emu_atomic_update(T* address, F f) {
  T old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  T desired = f(old);
  while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
    desired = f(old);
  return old;
}
inline float atomicAdd(float* a, float v) {
  return md_emu_atomic_update(a, [v](float x) { return x + v; });
}
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline int atomicMax(int* a, int v) {
  return md_emu_atomic_update(a, [v](int x) { return x > v ? x : v; });
}
inline int atomicMin(int* a, int v) {
  return md_emu_atomic_update(a, [v](int x) { return x < v ? x : v; });
}
inline float atomicExch(float* a, float v) {
  float old;
  __atomic_exchange(a, &v, &old, __ATOMIC_RELAXED);
  return old;
}
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }
inline int atomicCAS(int* a, int compare, int v) {
  __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;  // the old value, whether or not the swap happened
}

namespace mindiff::cuda {

template <class T>
using SharedPtr = emu::SharedSpan<T>;

// Four checked reads, counted as one access, and the alignment a 16-byte shared load needs.
inline float4 load_shared4(const SharedPtr<float>& s, int64_t i) {
  if (i % 4 != 0) emu::fail_misaligned("load_shared4", i);
  emu::begin_vector_access(4);
  const float x = s[i], y = s[i + 1], z = s[i + 2], w = s[i + 3];  // in this order
  return float4{x, y, z, w};
}
// Four checked writes, counted as one access.
inline void store_shared4(const SharedPtr<float>& s, int64_t i, float4 v) {
  if (i % 4 != 0) emu::fail_misaligned("store_shared4", i);
  emu::begin_vector_access(4);
  s[i] = v.x;
  s[i + 1] = v.y;
  s[i + 2] = v.z;
  s[i + 3] = v.w;
}

// The emulated launch: the arguments are converted to the kernel's parameter types once, as
// CUDA copies them into the launch, and every thread calls the kernel with (copies of) them.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t shared_bytes, Args... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with the wrong argument count");
  const std::tuple<std::decay_t<Params>...> params(args...);
  auto body = [&] { std::apply(kernel, params); };
  emu::run_grid(
      name, grid, block, shared_bytes,
      [](const void* p) { (*static_cast<const decltype(body)*>(p))(); }, &body);
}

}  // namespace mindiff::cuda
