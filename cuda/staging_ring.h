// Staging memory for copies to the device that do not make the host wait.
//
// cudaMemcpy from ordinary (pageable) host memory first waits for every kernel queued before it,
// so each copy to the device in a training step (the batch, the per-sample coefficients) would
// hold the host until the device had caught up, and the device would then idle while the host
// queued the next kernels. A copy from page-locked ("pinned") memory with cudaMemcpyAsync is
// queued like a kernel instead, in order with them on the one stream, and the host goes on.
// The host bytes are first copied into a pinned buffer, so the caller may reuse or free its own
// memory at once.
//
// This ring hands out that pinned buffer: space for each copy in turn, in first-in first-out
// order, wrapping to the start when the end is reached. A space is handed out again only once
// the copy that reads it has been done by the device: after each copy the ring records a marker
// in the stream (a CUDA event), and before reusing a space it waits for the markers of the copies
// that read it (at once, when they have passed). The device side comes in as four functions, so
// the ring's bookkeeping is tested on the CPU against a simulated queue
// (tests/test_staging_ring.cpp); cuda/backend_cuda.cpp gives it CUDA events.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace mindiff::cuda {

// A point in the device's queue (a cudaEvent_t in the real backend).
using Marker = void*;
struct MarkerOps {
  std::function<Marker()> create;        // a new marker
  std::function<void(Marker)> record;    // placed after everything queued so far
  std::function<bool(Marker)> passed;    // whether the device has got past it, without waiting
  std::function<void(Marker)> wait;      // until the device has got past it
};

class StagingRing {
 public:
  // Spaces are aligned to this many bytes (what DMA engines and vector loads like best), and a
  // request is rounded up to it.
  static constexpr size_t kAlign = 256;
  // At most this many copies in flight: past it the oldest is waited for, so the number of
  // markers stays bounded however small the copies.
  static constexpr size_t kMaxInFlight = 1024;

  // `memory` (pinned, `capacity` bytes, aligned to kAlign) stays the caller's.
  StagingRing(uint8_t* memory, size_t capacity, MarkerOps ops);

  // Space for `bytes` that no copy in flight still reads, waiting for the oldest copies until
  // there is; nullptr when the request exceeds the capacity (the caller then copies from its own
  // memory, the slow way). Every non-null space must be followed by queued() once its copy has
  // been queued, before the next acquire.
  uint8_t* acquire(size_t bytes);
  // The space last acquired is read by a copy now in the queue: records its marker.
  void queued();
  // The copy of the space last acquired could not be queued: the space is free again.
  void abandon() { pending_ = false; }

  size_t in_flight() const { return in_flight_.size(); }
  size_t waits() const { return waits_; }  // times the host waited for the device

 private:
  struct Span {
    size_t begin, end;  // [begin, end) of memory_
    Marker marker;
  };
  // Where `bytes` (rounded) fits among the spans in flight, or capacity_ when it does not.
  size_t place(size_t bytes) const;
  void retire_front();  // the oldest span's copy is done: its marker goes back to the pool

  uint8_t* memory_;
  size_t capacity_;
  MarkerOps ops_;
  std::deque<Span> in_flight_;    // oldest first, in ring order
  std::vector<Marker> spare_;     // markers the device has passed, for reuse
  size_t pending_begin_ = 0, pending_end_ = 0;  // the space acquired and not yet queued()
  bool pending_ = false;
  size_t waits_ = 0;
};

}  // namespace mindiff::cuda
