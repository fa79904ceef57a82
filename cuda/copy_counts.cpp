// Copy counters (copy_counts.h). Atomic and relaxed: a copy may come from any
// thread, and nothing is ordered by the counts; an increment costs nothing next to a copy.
#include "cuda/copy_counts.h"

#include <atomic>

#include "tensor/device_backend.h"

namespace mindiff::cuda {

namespace {
// Calls and bytes, indexed by CopyDirection.
constexpr int kDirections = 3;
std::atomic<size_t> g_calls[kDirections], g_bytes[kDirections];
size_t calls(CopyDirection d) { return g_calls[static_cast<int>(d)].load(std::memory_order_relaxed); }
size_t bytes(CopyDirection d) { return g_bytes[static_cast<int>(d)].load(std::memory_order_relaxed); }
}  // namespace

void count_copy(CopyDirection direction, size_t n) {
  g_calls[static_cast<int>(direction)].fetch_add(1, std::memory_order_relaxed);
  g_bytes[static_cast<int>(direction)].fetch_add(n, std::memory_order_relaxed);
}

CopyCounts copy_counts() {
  CopyCounts c;
  c.to_device = calls(CopyDirection::kToDevice);
  c.to_device_bytes = bytes(CopyDirection::kToDevice);
  c.to_host = calls(CopyDirection::kToHost);
  c.to_host_bytes = bytes(CopyDirection::kToHost);
  c.on_device = calls(CopyDirection::kOnDevice);
  c.on_device_bytes = bytes(CopyDirection::kOnDevice);
  return c;
}

void reset_copy_counts() {
  for (int d = 0; d < kDirections; ++d) {
    g_calls[d].store(0, std::memory_order_relaxed);
    g_bytes[d].store(0, std::memory_order_relaxed);
  }
}

}  // namespace mindiff::cuda
