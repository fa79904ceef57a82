// The pinned staging ring's bookkeeping (why and how in staging_ring.h).
#include "cuda/staging_ring.h"

#include "tensor/error.h"

namespace mindiff::cuda {

StagingRing::StagingRing(uint8_t* memory, size_t capacity, MarkerOps ops)
    : memory_(memory), capacity_(capacity), ops_(std::move(ops)) {
  MD_CHECK(memory != nullptr && capacity >= kAlign && capacity % kAlign == 0 &&
               reinterpret_cast<uintptr_t>(memory) % kAlign == 0,
           "StagingRing: need memory aligned to ", kAlign, " bytes and a capacity that is a "
           "positive multiple of it, got ", capacity, " bytes");
}

size_t StagingRing::place(size_t bytes) const {
  if (in_flight_.empty()) return 0;
  const Span &oldest = in_flight_.front(), &newest = in_flight_.back();
  if (newest.begin >= oldest.begin) {
    // Not wrapped: [oldest.begin, newest.end) is taken; free are the tail and the head.
    if (newest.end + bytes <= capacity_) return newest.end;
    if (bytes <= oldest.begin) return 0;
  } else if (newest.end + bytes <= oldest.begin) {
    // Wrapped: free is only the gap between the newest and the oldest.
    return newest.end;
  }
  return capacity_;
}

void StagingRing::retire_front() {
  spare_.push_back(in_flight_.front().marker);
  in_flight_.pop_front();
}

uint8_t* StagingRing::acquire(size_t bytes) {
  MD_CHECK(!pending_, "StagingRing: acquire before the previous space was queued()");
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign + (bytes == 0 ? kAlign : 0);
  if (rounded > capacity_) return nullptr;
  // Copies the device has done free their space without waiting.
  while (!in_flight_.empty() && ops_.passed(in_flight_.front().marker)) retire_front();
  size_t at = place(rounded);
  while (at == capacity_ || in_flight_.size() >= kMaxInFlight) {
    // No room (or too many markers): wait for the oldest copy, then look again.
    ops_.wait(in_flight_.front().marker);
    ++waits_;
    retire_front();
    at = place(rounded);
  }
  pending_ = true;
  pending_begin_ = at;
  pending_end_ = at + rounded;
  return memory_ + at;
}

void StagingRing::queued() {
  MD_CHECK(pending_, "StagingRing: queued() without an acquired space");
  Marker m;
  if (spare_.empty()) {
    m = ops_.create();
  } else {
    m = spare_.back();
    spare_.pop_back();
  }
  ops_.record(m);
  in_flight_.push_back(Span{pending_begin_, pending_end_, m});
  pending_ = false;
}

}  // namespace mindiff::cuda
