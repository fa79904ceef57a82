// DataLoader: seeded, resumable mini-batches over a Dataset.
//
// Order. Epoch e visits the examples in the order epoch_order(e): a Fisher-Yates shuffle whose
// random words are Philox (tensor/philox.h) at counter (i, e, tag) under key = seed, so the order
// is a pure function of (seed, epoch): no hidden generator state, nothing to replay on resume.
// Without shuffling the order is 0..N-1.
//
// Batches. A global batch is B * world_size consecutive positions of the epoch's order; process
// `rank` takes positions [rank B, (rank + 1) B) of it, so the processes' batches are disjoint
// and together are exactly what a single process with batch B * world_size would see. With
// drop_last (the default) an epoch ends when fewer than B * world_size positions remain; without
// it, the last batch is smaller (single process only).
//
// Flips. With hflip, the example at position p of epoch e is mirrored along W when the top bit of
// a Philox word at counter (p, e, flip tag) is set: probability 1/2, independent of batch size,
// rank and resumption.
//
// Cursor. {epoch, position, seed}: position counts examples of the epoch's order already taken
// (by all processes together). It is all the state there is: a loader given a saved cursor
// continues with exactly the batches an uninterrupted loader would have produced. After the last
// batch of an epoch the cursor already reads {epoch + 1, 0}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mindiff {

struct LoaderOptions {
  int64_t batch_size = 64;  // B, examples per batch of this process
  bool shuffle = true;
  bool drop_last = true;    // drop the last, incomplete batch of each epoch
  bool hflip = false;       // random horizontal flips; needs [N, C, H, W] images
  uint64_t seed = 0;
  int rank = 0;             // this process, in [0, world_size)
  int world_size = 1;
};

struct LoaderCursor {
  uint64_t epoch = 0;
  uint64_t position = 0;  // examples of this epoch's order already consumed (all ranks)
  uint64_t seed = 0;
  std::string str() const;  // "epoch 3, position 1280, seed 7"
};

struct Batch {
  Tensor images;                 // [B, C, H, W] (or [B, D]), a fresh contiguous tensor
  std::vector<int64_t> labels;   // B labels; empty if the dataset is unlabeled
  std::vector<int64_t> indices;  // which dataset examples these are
  std::vector<uint8_t> flipped;  // 1 where the example was mirrored
  uint64_t epoch = 0;            // the epoch the batch belongs to
};

class DataLoader {
 public:
  // Keeps a handle to the dataset's images (no copy; made contiguous if it is not). Errors name
  // the problem: batch too large for the dataset, label count mismatch, bad rank, flips on
  // non-image data.
  DataLoader(const Dataset& data, const LoaderOptions& options);

  Batch next_batch();

  LoaderCursor cursor() const { return cursor_; }
  // Resumes from a saved cursor (its seed replaces the options' seed).
  void set_cursor(const LoaderCursor& c);

  int64_t batches_per_epoch() const;
  const LoaderOptions& options() const { return opt_; }
  const Dataset& dataset() const { return data_; }

  // The visiting order of epoch `epoch` (a permutation of 0..N-1) and the flip decision for
  // position `position` of it. Pure functions of (seed, epoch, position).
  std::vector<int64_t> epoch_order(uint64_t epoch) const;
  bool flip_at(uint64_t epoch, uint64_t position) const;

 private:
  void normalize_cursor();  // moves to the next epoch when the current one cannot give a batch

  Dataset data_;
  LoaderOptions opt_;
  LoaderCursor cursor_;
  int64_t global_batch_ = 0;   // B * world_size
  int64_t row_ = 0;            // floats per example
  std::vector<int64_t> order_; // epoch_order(order_epoch_), cached
  uint64_t order_epoch_ = 0;
  bool order_valid_ = false;
};

}  // namespace mindiff
