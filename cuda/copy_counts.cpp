// Copy counters (copy_counts.h). Atomic and relaxed: a copy may come from any
// thread, and nothing is ordered by the counts; an increment costs nothing next to a copy.
#include "cuda/copy_counts.h"

#include <atomic>

#include "tensor/device_backend.h"

namespace mindiff::cuda {

namespace {
std::atomic<size_t> g_to_device{0}, g_to_device_bytes{0}, g_to_host{0}, g_to_host_bytes{0},
    g_on_device{0}, g_on_device_bytes{0};
}  // namespace

void count_copy(CopyDirection direction, size_t bytes) {
  std::atomic<size_t>& calls = direction == CopyDirection::kToDevice ? g_to_device
                               : direction == CopyDirection::kToHost ? g_to_host
                                                                     : g_on_device;
  std::atomic<size_t>& total = direction == CopyDirection::kToDevice ? g_to_device_bytes
                               : direction == CopyDirection::kToHost ? g_to_host_bytes
                                                                     : g_on_device_bytes;
  calls.fetch_add(1, std::memory_order_relaxed);
  total.fetch_add(bytes, std::memory_order_relaxed);
}

CopyCounts copy_counts() {
  CopyCounts c;
  c.to_device = g_to_device.load(std::memory_order_relaxed);
  c.to_device_bytes = g_to_device_bytes.load(std::memory_order_relaxed);
  c.to_host = g_to_host.load(std::memory_order_relaxed);
  c.to_host_bytes = g_to_host_bytes.load(std::memory_order_relaxed);
  c.on_device = g_on_device.load(std::memory_order_relaxed);
  c.on_device_bytes = g_on_device_bytes.load(std::memory_order_relaxed);
  return c;
}

void reset_copy_counts() {
  for (std::atomic<size_t>* c : {&g_to_device, &g_to_device_bytes, &g_to_host, &g_to_host_bytes,
                                 &g_on_device, &g_on_device_bytes})
    c->store(0, std::memory_order_relaxed);
}

}  // namespace mindiff::cuda
