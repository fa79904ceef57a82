// The layout of a multi-tensor update (tensor/ops/optim.h's *_update_all_, cuda/optim.cu): a list
// of tensors updated by one kernel launch, as one index space of fixed-size chunks.
//
// Tensor i (a slot) has n_i elements and ceil(n_i / kMultiTensorChunk) chunks; its chunks are
// numbered from first_chunk_i = the chunks of the slots before it. A block of the launch takes a
// chunk number k, finds its slot (the last slot with first_chunk <= k: empty slots own no chunk
// and share the next slot's first_chunk, so the last one wins), and updates that slot's elements
// [(k - first_chunk) * kMultiTensorChunk, +kMultiTensorChunk) clipped to n.
//
// The slots hold the pointers that stay put from step to step: the parameter and its state (Adam
// moments, momentum buffer; for the EMA the shadow and its parameter). They live in a device
// table built once (MultiTensorTable) and rebuilt only when a pointer or size changes. Gradients
// are not in it: backward makes new gradient tensors every step (zero_grad drops the old ones), so
// their addresses travel with each launch as kernel arguments instead, which is no copy.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/device.h"
#include "tensor/tensor.h"

namespace mindiff {

// Elements per chunk: 8 per thread of a 256-thread block.
constexpr int64_t kMultiTensorChunk = 2048;

struct MultiTensorSlot {
  float* p;             // updated in place: the parameter (Adam, SGD) or the shadow (EMA)
  float* s0;            // exp_avg, the momentum buffer (null when momentum is 0), the EMA's parameter
  float* s1;            // exp_avg_sq, else null
  int64_t n;            // elements of each
  int64_t first_chunk;  // chunks of the slots before this one
};

MD_HOST_DEVICE int64_t multi_tensor_chunks(int64_t n) {
  return (n + kMultiTensorChunk - 1) / kMultiTensorChunk;
}

// The slot in [0, count) that owns chunk k (first_chunk <= k < every later non-empty slot's):
// a binary search for the last slot with first_chunk <= k. k must be below the total.
MD_HOST_DEVICE int multi_tensor_find_slot(const MultiTensorSlot* slots, int count,
                                                 int64_t k) {
  int lo = 0, hi = count - 1;  // invariant: slots[lo].first_chunk <= k
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (slots[mid].first_chunk <= k)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// The device table of a multi-tensor update and what it was built from. The optimizer or EMA
// that owns it hands it to every update; it is uploaded on first use and again only when the
// slots change (parameters do not move between steps, so a training run uploads it once).
struct MultiTensorTable {
  std::vector<MultiTensorSlot> slots;  // the host copy: what `device` holds
  Tensor device;                       // the slots on the device (their bytes in a float tensor)
  int64_t uploads = 0;                 // host -> device copies of the table so far
};

}  // namespace mindiff
