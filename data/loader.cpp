// DataLoader; see loader.h for the order, batching, flip and cursor rules.
#include "data/loader.h"

#include <algorithm>
#include <cstring>

#include "tensor/error.h"
#include "tensor/philox.h"

namespace mindiff {

namespace {

// Domain tags in the last Philox counter word, so shuffle and flip words never coincide.
constexpr uint32_t kShuffleTag = 0x5348u;  // "SH"
constexpr uint32_t kFlipTag = 0x464Cu;     // "FL"

// Philox words at counter (index, epoch, tag) under key `seed`. Epochs are taken mod 2^32.
Philox4 words(uint64_t seed, uint64_t index, uint64_t epoch, uint32_t tag) {
  Philox4 ctr{{uint32_t(index), uint32_t(index >> 32), uint32_t(epoch), tag}};
  return philox4x32_10(ctr, seed);
}

}  // namespace

std::string LoaderCursor::str() const {
  return "epoch " + std::to_string(epoch) + ", position " + std::to_string(position) + ", seed " +
         std::to_string(seed);
}

DataLoader::DataLoader(const Dataset& data, const LoaderOptions& options)
    : data_(data), opt_(options) {
  MD_CHECK(data_.images.defined() && data_.images.ndim() >= 1 && data_.size() > 0,
           "DataLoader: dataset '", data_.name, "' is empty");
  data_.images = data_.images.contiguous();
  const int64_t n = data_.size();
  MD_CHECK(data_.labels.empty() || int64_t(data_.labels.size()) == n, "DataLoader: dataset '",
           data_.name, "' has ", data_.labels.size(), " labels for ", n, " examples");
  MD_CHECK(opt_.batch_size > 0, "DataLoader: batch size must be positive, got ", opt_.batch_size);
  MD_CHECK(opt_.world_size >= 1 && opt_.rank >= 0 && opt_.rank < opt_.world_size,
           "DataLoader: rank ", opt_.rank, " out of range for world size ", opt_.world_size);
  // With several processes every one must get a batch at every step, so partial batches (which
  // could leave some ranks empty) are not offered.
  MD_CHECK(opt_.drop_last || opt_.world_size == 1,
           "DataLoader: drop_last must be on when world_size > 1 (", opt_.world_size, ")");
  MD_CHECK(!opt_.hflip || data_.images.ndim() == 4, "DataLoader: horizontal flips need images "
           "[N, C, H, W], dataset '", data_.name, "' has shape ", data_.images.shape().str());
  global_batch_ = opt_.batch_size * opt_.world_size;
  MD_CHECK(!opt_.drop_last || global_batch_ <= n, "DataLoader: batch of ", opt_.batch_size,
           (opt_.world_size > 1 ? " x " + std::to_string(opt_.world_size) + " processes" : ""),
           " exceeds the ", n, " examples of dataset '", data_.name,
           "', so with drop_last no batch could be formed");
  row_ = data_.images.numel() / n;
  cursor_.seed = opt_.seed;
}

std::vector<int64_t> DataLoader::epoch_order(uint64_t epoch) const {
  const int64_t n = data_.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  if (!opt_.shuffle) return order;
  // Fisher-Yates: for i = n-1 .. 1 swap order[i] with order[j], j uniform in [0, i]. j comes from
  // 64 random bits mod (i + 1); the modulo bias is below (i + 1) / 2^64, far below detectability.
  for (int64_t i = n - 1; i > 0; --i) {
    const Philox4 w = words(cursor_.seed, uint64_t(i), epoch, kShuffleTag);
    const uint64_t bits = uint64_t(w.v[0]) << 32 | w.v[1];
    const int64_t j = int64_t(bits % uint64_t(i + 1));
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

bool DataLoader::flip_at(uint64_t epoch, uint64_t position) const {
  return opt_.hflip && (words(cursor_.seed, position, epoch, kFlipTag).v[0] >> 31) != 0;
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = data_.size();
  return opt_.drop_last ? n / global_batch_ : (n + global_batch_ - 1) / global_batch_;
}

void DataLoader::normalize_cursor() {
  const uint64_t n = uint64_t(data_.size());
  const uint64_t remaining = cursor_.position < n ? n - cursor_.position : 0;
  const bool exhausted = opt_.drop_last ? remaining < uint64_t(global_batch_) : remaining == 0;
  if (exhausted) {
    ++cursor_.epoch;
    cursor_.position = 0;
  }
}

void DataLoader::set_cursor(const LoaderCursor& c) {
  MD_CHECK(c.position <= uint64_t(data_.size()), "DataLoader: cursor (", c.str(),
           ") is past the end of dataset '", data_.name, "' (", data_.size(), " examples)");
  if (c.seed != cursor_.seed) order_valid_ = false;
  cursor_ = c;
  normalize_cursor();
}

Batch DataLoader::next_batch() {
  normalize_cursor();  // a cursor set by hand may sit at an epoch's end
  if (!order_valid_ || order_epoch_ != cursor_.epoch) {
    order_ = epoch_order(cursor_.epoch);
    order_epoch_ = cursor_.epoch;
    order_valid_ = true;
  }
  const int64_t n = data_.size();
  const int64_t global_start = int64_t(cursor_.position);
  const int64_t global_end = std::min(n, global_start + global_batch_);
  // This rank's slice of the global batch (the whole of it when world_size == 1).
  const int64_t start = std::min(global_end, global_start + opt_.rank * opt_.batch_size);
  const int64_t end = std::min(global_end, start + opt_.batch_size);
  const int64_t b = end - start;

  Batch batch;
  batch.epoch = cursor_.epoch;
  Shape shape = data_.images.shape();
  shape[0] = b;
  batch.images = empty(shape);
  const float* src = data_.images.data();
  float* dst = batch.images.data();
  // Row length W of a flip: the last axis of [N, C, H, W]; a flipped example reverses every one
  // of its C * H rows.
  const int64_t w = data_.images.shape()[data_.images.ndim() - 1];
  for (int64_t k = 0; k < b; ++k) {
    const int64_t p = start + k, idx = order_[size_t(p)];
    batch.indices.push_back(idx);
    if (!data_.labels.empty()) batch.labels.push_back(data_.labels[size_t(idx)]);
    const bool flip = flip_at(cursor_.epoch, uint64_t(p));
    batch.flipped.push_back(flip ? 1 : 0);
    const float* in = src + idx * row_;
    float* out = dst + k * row_;
    if (!flip) {
      std::memcpy(out, in, size_t(row_) * sizeof(float));
    } else {
      for (int64_t r = 0; r < row_; r += w)
        for (int64_t x = 0; x < w; ++x) out[r + x] = in[r + w - 1 - x];
    }
  }
  cursor_.position = uint64_t(global_end);
  normalize_cursor();
  return batch;
}

}  // namespace mindiff
