// The CUDA emulator, runtime side: grids, blocks of fibers, barriers, warp exchanges and the
// shared-memory race detector (the model is described in emu.h).
//
// Race detection. Within one block, the barriers cut time into intervals: block epoch e is the
// time between the e-th and (e+1)-th completed __syncthreads(), and each warp has its own count
// of completed warp-level operations (__syncwarp, shuffles, votes), its warp epoch. An access of
// thread t happens before an access of thread u when a barrier both take part in lies between
// them: a later block epoch, or, within one block epoch, a later warp epoch of their common warp.
// Every shared element records its last write (thread, block epoch, warp epoch) and the reads of
// the current block epoch (a first reader, another one if any, their warp, warp epoch). Then
//   a read  by u is a race if the last write was by another thread, not before u's read;
//   a write by u is a race if the last write, or a read in this epoch, was by another thread,
//   not before u's write.
// Each conflicting pair is caught whichever of its two accesses the scheduler happened to run
// first, so the verdict does not depend on the order of the fibers: a missing __syncthreads() is
// an error on every run, not a wrong answer on some.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/emu/emu.h"
#include "cuda/emu/fiber.h"
#include "cuda/emu/traffic.h"
#include "tensor/error.h"

namespace mindiff::cuda::emu {

thread_local Builtins tls_builtins;

namespace {

constexpr size_t kStackBytes = 64 * 1024;    // per thread; kernels keep a few hundred bytes
constexpr size_t kSharedLimit = 48 * 1024;   // shared memory per block without an opt-in
constexpr int kMaxThreads = 1024;            // threads per block
constexpr int64_t kParallelThreads = 8192;   // grids with fewer threads run on one CPU thread

enum class State : uint8_t { Runnable, AtBarrier, AtWarp, Exited };

struct WarpState {
  unsigned present = 0;   // lanes that exist (the last warp of a block may be partial)
  unsigned expected = 0;  // lanes taking part in the exchange being gathered
  unsigned arrived = 0;
  unsigned exited = 0;
  uint32_t epoch = 0;     // completed exchanges
  uint64_t slot[2][32];   // deposits; exchange e uses slot[e % 2] (see warp_gather)
};

struct BlockRun {
  // The launch.
  const char* kernel = nullptr;
  Invoke invoke = nullptr;
  const void* closure = nullptr;
  dim3 grid, block;
  uint3 block_idx{0, 0, 0};
  int nthreads = 0;
  size_t dynamic_bytes = 0;
  // The threads of the current block.
  StackPool stacks;
  std::vector<Fiber> fibers;
  std::vector<State> state;
  std::vector<WarpState> warps;
  Fiber scheduler;
  int current = 0;        // the running thread
  uint32_t epoch = 0;     // completed __syncthreads()
  int at_barrier = 0;
  int exited = 0;
  int first_exited = -1;
  std::exception_ptr error;
  // Shared memory of the current block: the dynamic region at offset 0, then static arrays.
  uint64_t serial = 0;    // unique per block run, tells SharedSlots when to reallocate
  std::unique_ptr<unsigned char[]> arena{new unsigned char[kSharedLimit]};
  std::unique_ptr<ShadowWord[]> shadow{new ShadowWord[kSharedLimit]};
  size_t used = 0;         // bytes of the arena taken
  size_t shadow_used = 0;  // shadow words taken
  int64_t dynamic_count = 0;
  // The traffic count (traffic.h), when on: each thread's shared accesses since the last barrier,
  // in order, and this block's totals by (array, store?), added to the report at its end.
  struct Access {
    uint32_t offset, bytes;
    const char* array;
    bool store;
  };
  bool counting = false;
  std::vector<std::vector<Access>> log;
  int vector_pending = 0;  // set by begin_vector_access: the next access starts a vector access
  int vector_left = 0;     // accesses still to join the last one
  std::map<std::pair<const char*, bool>, SharedTraffic> traffic;
};

thread_local std::unique_ptr<BlockRun> tls_run;
std::atomic<uint64_t> g_next_serial{1};

// The traffic count (traffic.h): on or off, and what has been counted.
std::atomic<bool> g_counting{false};
std::mutex g_report_mutex;
TrafficReport g_report;

BlockRun& run() { return *tls_run; }

std::string xyz(unsigned x, unsigned y, unsigned z) {
  std::ostringstream os;
  os << "(" << x << ", " << y << ", " << z << ")";
  return os.str();
}

// "(x, y, z)" of linear thread index t.
std::string thread_name(const BlockRun& b, int t) {
  const unsigned bx = b.block.x, by = b.block.y;
  return "thread " + xyz(t % bx, (t / bx) % by, t / (bx * by));
}

Error kernel_error(const BlockRun& b, const std::string& what) {
  return Error("kernel '" + std::string(b.kernel) + "', block " +
               xyz(b.block_idx.x, b.block_idx.y, b.block_idx.z) + ": " + what);
}

[[noreturn]] void fail(const BlockRun& b, const std::string& what) { throw kernel_error(b, what); }

std::string hex(unsigned mask) {
  std::ostringstream os;
  os << "0x" << std::hex << mask;
  return os.str();
}

void yield(BlockRun& b) { fiber_switch(b.fibers[b.current], b.scheduler); }

// A thread has returned from the kernel: if others wait for it at a barrier, the block cannot
// finish. Runs outside any try block, so the error is stored rather than thrown.
void thread_exited(BlockRun& b, int t) {
  b.state[t] = State::Exited;
  ++b.exited;
  if (b.first_exited < 0) b.first_exited = t;
  WarpState& w = b.warps[t / 32];
  w.exited |= 1u << (t % 32);
  if (b.error) return;
  if (b.at_barrier > 0)
    b.error = std::make_exception_ptr(kernel_error(
        b, thread_name(b, t) + " returned while " + std::to_string(b.at_barrier) +
               " threads wait for it at __syncthreads() (every thread must reach every barrier)"));
  else if (w.arrived && ((w.expected >> (t % 32)) & 1u))
    b.error = std::make_exception_ptr(kernel_error(
        b, thread_name(b, t) + " returned while its warp waits for it in a warp operation"));
}

// Every fiber starts here, on its own stack, and never returns: it ends by switching back to the
// scheduler for good. Exceptions (race reports, failed checks) are handed to the scheduler.
void thread_entry() {
  BlockRun& b = run();
  const int t = b.current;
  try {
    b.invoke(b.closure);
  } catch (...) {
    if (!b.error) b.error = std::current_exception();
  }
  thread_exited(b, t);
  fiber_exit(b.fibers[t], b.scheduler);
}

void resume(BlockRun& b, int t) {
  const unsigned bx = b.block.x, by = b.block.y;
  b.current = t;
  tls_builtins.thread_idx = uint3{t % bx, (t / bx) % by, t / (bx * by)};
  tls_builtins.lane = t % 32;
  fiber_switch(b.scheduler, b.fibers[t]);
}

std::string deadlock_message(const BlockRun& b) {
  int barrier = 0, warp = 0;
  for (State s : b.state) {
    barrier += s == State::AtBarrier;
    warp += s == State::AtWarp;
  }
  return "deadlock: " + std::to_string(barrier) + " threads wait at __syncthreads(), " +
         std::to_string(warp) + " in warp operations, " + std::to_string(b.exited) +
         " have returned (the threads of a block must reach the same barriers)";
}

// ---- the traffic count (traffic.h) ----

// Pairs the logged accesses into warp-wide ones (the k-th of each lane of a warp) and adds their
// wavefronts to the block's totals; called when every thread is at a barrier or has returned.
void flush_traffic(BlockRun& b) {
  for (int w0 = 0; w0 < b.nthreads; w0 += 32) {
    const int lanes = std::min(32, b.nthreads - w0);
    size_t longest = 0;
    for (int l = 0; l < lanes; ++l) longest = std::max(longest, b.log[w0 + l].size());
    for (size_t k = 0; k < longest; ++k) {
      LaneAccess group[32];
      int n = 0;
      const BlockRun::Access* first = nullptr;
      for (int l = 0; l < lanes; ++l) {
        const std::vector<BlockRun::Access>& lane_log = b.log[w0 + l];
        if (lane_log.size() <= k) continue;
        if (!first) first = &lane_log[k];
        group[n++] = LaneAccess{lane_log[k].offset, lane_log[k].bytes};
      }
      const Wavefronts f = count_wavefronts(group, n);
      SharedTraffic& t = b.traffic[{first->array, first->store}];
      ++t.requests;
      t.wavefronts += f.wavefronts;
      t.ideal += f.ideal;
    }
    for (int l = 0; l < lanes; ++l) b.log[w0 + l].clear();
  }
}

void add_block_traffic(BlockRun& b) {
  flush_traffic(b);
  std::lock_guard<std::mutex> lock(g_report_mutex);
  std::map<std::string, SharedTraffic>& shared = g_report[b.kernel].shared;
  for (const auto& [key, t] : b.traffic) {
    SharedTraffic& total = shared[std::string(key.first) + (key.second ? " store" : " load")];
    total.requests += t.requests;
    total.wavefronts += t.wavefronts;
    total.ideal += t.ideal;
  }
  b.traffic.clear();
}

void record_access(BlockRun& b, const void* p, int bytes, const char* array, bool store) {
  std::vector<BlockRun::Access>& lane_log = b.log[b.current];
  if (b.vector_left > 0) {  // a later element of a vector access
    --b.vector_left;
    lane_log.back().bytes += static_cast<uint32_t>(bytes);
    return;
  }
  const auto offset = static_cast<uint32_t>(static_cast<const unsigned char*>(p) - b.arena.get());
  lane_log.push_back({offset, static_cast<uint32_t>(bytes), array, store});
  b.vector_left = b.vector_pending > 0 ? b.vector_pending - 1 : 0;
  b.vector_pending = 0;
}

// Runs block `index` (row-major over the grid) to completion, or throws its first error.
void run_block(BlockRun& b, int64_t index) {
  b.block_idx = uint3{static_cast<unsigned>(index % b.grid.x),
                      static_cast<unsigned>((index / b.grid.x) % b.grid.y),
                      static_cast<unsigned>(index / (static_cast<int64_t>(b.grid.x) * b.grid.y))};
  tls_builtins.block_idx = b.block_idx;
  tls_builtins.block_dim = b.block;
  tls_builtins.grid_dim = b.grid;
  b.serial = g_next_serial.fetch_add(1);
  b.epoch = 0;
  b.at_barrier = b.exited = 0;
  b.first_exited = -1;
  b.error = nullptr;
  b.counting = g_counting.load(std::memory_order_relaxed);
  if (b.counting) {
    b.log.resize(static_cast<size_t>(b.nthreads));
    for (auto& lane_log : b.log) lane_log.clear();
    b.traffic.clear();
  }
  b.vector_pending = b.vector_left = 0;
  // Shared memory: the dynamic region, garbage (NaN bytes) and unwritten.
  b.dynamic_count = static_cast<int64_t>(b.dynamic_bytes / 4);
  std::fill(b.arena.get(), b.arena.get() + b.dynamic_bytes, 0xFF);
  std::fill(b.shadow.get(), b.shadow.get() + b.dynamic_count,
            ShadowWord{-1, 0, 0, -1, -1, 0, 0, -1});
  b.used = (b.dynamic_bytes + 15) / 16 * 16;
  b.shadow_used = static_cast<size_t>(b.dynamic_count);
  for (size_t w = 0; w < b.warps.size(); ++w) {
    WarpState& ws = b.warps[w];
    const int lanes = std::min(32, b.nthreads - static_cast<int>(w) * 32);
    ws.present = lanes == 32 ? ~0u : (1u << lanes) - 1u;
    ws.expected = ws.arrived = ws.exited = 0;
    ws.epoch = 0;
  }
  for (int t = 0; t < b.nthreads; ++t) {
    fiber_init(b.fibers[t], b.stacks.stack(t), b.stacks.stack_bytes(), thread_entry);
    b.state[t] = State::Runnable;
  }
  // Passes over the block, alternately ascending and descending, until every thread returned.
  bool ascending = true;
  while (b.exited < b.nthreads) {
    bool progressed = false;
    for (int k = 0; k < b.nthreads; ++k) {
      const int t = ascending ? k : b.nthreads - 1 - k;
      if (b.state[t] != State::Runnable) continue;
      resume(b, t);
      progressed = true;
      if (b.error) std::rethrow_exception(b.error);
    }
    if (!progressed) fail(b, deadlock_message(b));
    ascending = !ascending;
  }
  if (b.counting) add_block_traffic(b);
}

void check_configuration(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes) {
  const int64_t threads = static_cast<int64_t>(block.x) * block.y * block.z;
  std::string why;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0)
    why = "an extent is 0";
  else if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > kMaxThreads)
    why = "more than 1024 threads per block (or block.z > 64)";
  else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    why = "grid too large (x < 2^31, y and z <= 65535)";
  else if (shared_bytes > kSharedLimit)
    why = std::to_string(shared_bytes) + " bytes of dynamic shared memory, over 48 KiB";
  if (!why.empty())
    throw Error("kernel '" + std::string(kernel) + "': invalid launch configuration, grid " +
                xyz(grid.x, grid.y, grid.z) + " block " + xyz(block.x, block.y, block.z) + ": " +
                why);
}

}  // namespace

void run_grid(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, Invoke invoke,
              const void* closure) {
  check_configuration(kernel, grid, block, shared_bytes);
  if (g_counting.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(g_report_mutex);
    ++g_report[kernel].launches;
  }
  const int nthreads = static_cast<int>(block.x * block.y * block.z);
  const int64_t nblocks = static_cast<int64_t>(grid.x) * grid.y * grid.z;
  const bool parallel = nblocks > 1 && nblocks * nthreads >= kParallelThreads && !omp_in_parallel();
  // The error of the lowest failing block is reported, so the report does not depend on how the
  // blocks were spread over CPU threads.
  std::exception_ptr first_error;
  int64_t first_failed = nblocks;
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t i = 0; i < nblocks; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    if (!tls_run) tls_run = std::make_unique<BlockRun>();
    BlockRun& b = *tls_run;
    b.stacks.reserve(nthreads, kStackBytes);  // these grow only
    b.fibers.resize(static_cast<size_t>(nthreads));
    b.state.resize(static_cast<size_t>(nthreads));
    b.warps.resize(static_cast<size_t>((nthreads + 31) / 32));
    b.kernel = kernel;
    b.invoke = invoke;
    b.closure = closure;
    b.grid = grid;
    b.block = block;
    b.nthreads = nthreads;
    b.dynamic_bytes = shared_bytes;
    try {
      run_block(b, i);
    } catch (...) {
      failed = true;
#pragma omp critical(md_emu_error)
      if (i < first_failed) {
        first_failed = i;
        first_error = std::current_exception();
      }
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

// ---- barriers ----

void sync_threads() {
  BlockRun& b = run();
  const int t = b.current;
  if (b.exited > 0)
    fail(b, thread_name(b, t) + " reached __syncthreads() after " +
                thread_name(b, b.first_exited) +
                " returned (every thread must reach every barrier: no early return before one)");
  b.state[t] = State::AtBarrier;
  if (++b.at_barrier == b.nthreads) {  // the last to arrive releases the block
    if (b.counting) flush_traffic(b);
    b.at_barrier = 0;
    ++b.epoch;
    std::fill(b.state.begin(), b.state.end(), State::Runnable);
  }
  yield(b);
}

// Double buffering: deposits of exchange e go to slot[e % 2]. A lane that leaves exchange e and
// deposits for e + 1 writes the other buffer, and cannot deposit for e + 2 (overwriting the
// buffer of e) before every lane has arrived at e + 1, i.e. has read its values of e.
unsigned warp_gather(unsigned mask, uint64_t value, uint64_t (&values)[32]) {
  BlockRun& b = run();
  const int t = b.current, lane = t % 32;
  WarpState& w = b.warps[t / 32];
  const unsigned expected = mask & w.present;
  if (!((mask >> lane) & 1u))
    fail(b, thread_name(b, t) + " (lane " + std::to_string(lane) +
                ") calls a warp operation with mask " + hex(mask) + ", which does not name it");
  if (w.arrived != 0 && w.expected != expected)
    fail(b, thread_name(b, t) + " calls a warp operation with mask " + hex(mask) +
                " while other lanes of its warp wait in one with mask " + hex(w.expected));
  if (w.exited & expected)
    fail(b, thread_name(b, t) + " calls a warp operation with mask " + hex(mask) +
                " naming a lane that has returned");
  w.expected = expected;
  const int buf = static_cast<int>(w.epoch & 1u);
  w.slot[buf][lane] = value;
  w.arrived |= 1u << lane;
  b.state[t] = State::AtWarp;
  if (w.arrived == w.expected) {  // the last lane to arrive releases the others
    w.arrived = 0;
    ++w.epoch;
    for (int l = 0; l < 32; ++l)
      if ((expected >> l) & 1u) b.state[(t / 32) * 32 + l] = State::Runnable;
  }
  yield(b);
  for (int l = 0; l < 32; ++l) values[l] = w.slot[buf][l];
  return expected;
}

void fail_warp(const char* op, unsigned mask, int src_lane) {
  const BlockRun& b = run();
  fail(b, thread_name(b, b.current) + " reads lane " + std::to_string(src_lane) + " in " + op +
              " with mask " + hex(mask) + ", but that lane is not in the mask or not in the block");
}

void fail_width(const char* op, int width) {
  fail(run(), std::string(op) + ": width " + std::to_string(width) +
                  " is not a power of two in [1, 32]");
}

// ---- shared memory ----

void shared_static(SharedSlot& slot, size_t count, size_t elem_bytes, const char* name) {
  BlockRun& b = run();
  if (slot.block_serial == b.serial) return;  // another thread of this block allocated it
  const size_t offset = (b.used + 15) / 16 * 16, bytes = count * elem_bytes;
  if (offset + bytes > kSharedLimit)
    fail(b, "shared array '" + std::string(name) + "' of " + std::to_string(bytes) +
                " bytes takes the block's shared memory to " + std::to_string(offset + bytes) +
                " bytes, over the 48 KiB a kernel gets without opting in");
  slot.data = b.arena.get() + offset;
  std::fill(b.arena.get() + offset, b.arena.get() + offset + bytes, 0xFF);
  slot.shadow = b.shadow.get() + b.shadow_used;
  std::fill(slot.shadow, slot.shadow + count, ShadowWord{-1, 0, 0, -1, -1, 0, 0, -1});
  b.used = offset + bytes;
  b.shadow_used += count;
  slot.block_serial = b.serial;
}

void* shared_dynamic(ShadowWord** shadow, int64_t* count) {
  BlockRun& b = run();
  *shadow = b.shadow.get();
  *count = b.dynamic_count;
  return b.arena.get();
}

namespace {

std::string element_name(const SharedInfo& info, int64_t index) {
  std::string s = info.name;
  if (info.cols > 0)
    return s + "[" + std::to_string(index / info.cols) + "][" + std::to_string(index % info.cols) +
           "]";
  return s + "[" + std::to_string(index) + "]";
}

// Did an access at (epoch, warp, warp_epoch) happen before the running thread's access now?
bool before_now(const BlockRun& b, uint32_t epoch, int warp, uint32_t warp_epoch) {
  const int my_warp = b.current / 32;
  return epoch != b.epoch || (warp == my_warp && b.warps[my_warp].epoch != warp_epoch);
}

[[noreturn]] void fail_race(const BlockRun& b, const SharedInfo& info, int64_t index,
                            const char* mine, int other, const char* theirs) {
  fail(b, "shared-memory race on " + element_name(info, index) + ": " +
              thread_name(b, b.current) + " " + mine + " it, " + thread_name(b, other) + " " +
              theirs + " it, and no barrier lies between (a missing __syncthreads()?)");
}

}  // namespace

void check_read(ShadowWord& w, const SharedInfo& info, int64_t index, const void* p, int bytes) {
  BlockRun& b = run();
  if (b.counting) record_access(b, p, bytes, info.name, false);
  const int t = b.current, warp = t / 32;
  if (w.writer < 0)
    fail(b, thread_name(b, t) + " reads " + element_name(info, index) +
                ", which no thread of the block has written (shared memory starts undefined)");
  if (w.writer != t && !before_now(b, w.write_epoch, w.writer / 32, w.write_warp_epoch))
    fail_race(b, info, index, "reads", w.writer, "writes");
  const uint32_t warp_epoch = b.warps[warp].epoch;
  if (w.reader < 0 || w.read_epoch != b.epoch) {  // the first read of this block epoch
    w = ShadowWord{w.writer, w.write_epoch, w.write_warp_epoch, t, warp, b.epoch, warp_epoch, -1};
  } else {
    if (w.reader != t && w.other_reader < 0) w.other_reader = t;
    if (w.reader_warp != warp) w.reader_warp = -2;
    w.read_warp_epoch = warp_epoch;
  }
}

void check_write(ShadowWord& w, const SharedInfo& info, int64_t index, const void* p, int bytes) {
  BlockRun& b = run();
  if (b.counting) record_access(b, p, bytes, info.name, true);
  const int t = b.current, warp = t / 32;
  if (w.writer >= 0 && w.writer != t &&
      !before_now(b, w.write_epoch, w.writer / 32, w.write_warp_epoch))
    fail_race(b, info, index, "writes", w.writer, "writes");
  if (w.reader >= 0 && w.read_epoch == b.epoch) {
    const int other = w.reader != t ? w.reader : w.other_reader;  // a reader other than t
    const bool warp_ordered = w.reader_warp == warp && b.warps[warp].epoch != w.read_warp_epoch;
    if (other >= 0 && !warp_ordered) fail_race(b, info, index, "writes", other, "reads");
  }
  w.writer = t;
  w.write_epoch = b.epoch;
  w.write_warp_epoch = b.warps[warp].epoch;
}

void begin_vector_access(int elements) {
  BlockRun& b = run();
  if (b.counting) b.vector_pending = elements;
}

void start_traffic_count() {
  std::lock_guard<std::mutex> lock(g_report_mutex);
  g_report.clear();
  g_counting = true;
}

TrafficReport stop_traffic_count() {
  std::lock_guard<std::mutex> lock(g_report_mutex);
  g_counting = false;
  TrafficReport r;
  r.swap(g_report);
  return r;
}

void fail_bounds(const SharedInfo& info, int64_t index, int64_t count) {
  const BlockRun& b = run();
  fail(b, thread_name(b, b.current) + " accesses shared array '" + info.name + "' at flat index " +
              std::to_string(index) + ", outside its " + std::to_string(count) + " elements");
}

void fail_misaligned(const char* op, int64_t index) {
  const BlockRun& b = run();
  fail(b, thread_name(b, b.current) + " calls " + op + " at shared index " + std::to_string(index) +
              ", which is not a multiple of 4 (a 16-byte load needs 16-byte alignment)");
}

}  // namespace mindiff::cuda::emu
