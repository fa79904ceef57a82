// The pinned staging ring's bookkeeping (cuda/staging_ring.h) against a simulated device queue:
// markers are positions in the queue, and the simulated device has done a prefix of it. The one
// property that matters is that no space is handed out while a copy queued before still reads
// it; the others are that the host waits only when it must, and that the markers stay few.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "cuda/staging_ring.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using cuda::Marker;
using cuda::StagingRing;
constexpr size_t kUnit = StagingRing::kAlign;

// A queue that the device works through in order. A marker records the queue's length when it
// was recorded; it has passed once the device has done that many items.
struct SimulatedQueue {
  std::vector<size_t> recorded_at;  // per marker made (so its size counts them)
  size_t queued = 0, done = 0;

  static size_t id(Marker m) { return reinterpret_cast<uintptr_t>(m) - 1; }
  cuda::MarkerOps ops() {
    cuda::MarkerOps o;
    o.create = [this] {
      recorded_at.push_back(0);
      return reinterpret_cast<Marker>(static_cast<uintptr_t>(recorded_at.size()));
    };
    o.record = [this](Marker m) { recorded_at[id(m)] = ++queued; };
    o.passed = [this](Marker m) { return recorded_at[id(m)] <= done; };
    o.wait = [this](Marker m) { done = std::max(done, recorded_at[id(m)]); };
    return o;
  }
};

struct Pinned {
  std::unique_ptr<uint8_t, decltype(&std::free)> memory;
  explicit Pinned(size_t bytes)
      : memory(static_cast<uint8_t*>(std::aligned_alloc(kUnit, bytes)), &std::free) {}
};

// A copy as the backend makes it: the space it reads and its place in the queue.
struct Copy {
  size_t begin, end, position;
};

TEST(StagingRing, NeverHandsOutSpaceACopyStillReads) {
  constexpr size_t kCapacity = 64 * kUnit;
  constexpr int kCopies = 5000;
  for (uint32_t seed : {1u, 2u, 3u}) {
    Pinned pinned(kCapacity);
    SimulatedQueue queue;
    StagingRing ring(pinned.memory.get(), kCapacity, queue.ops());
    std::mt19937 rng(seed);
    std::vector<Copy> copies;
    size_t peak = 0;
    for (int i = 0; i < kCopies; ++i) {
      // Sizes from 0 bytes to a third of the ring, most small; the device sometimes catches up
      // on part of the queue between two copies, sometimes not at all.
      const size_t bytes = rng() % 4 == 0 ? rng() % (kCapacity / 3) : rng() % (2 * kUnit);
      if (rng() % 3 == 0) queue.done = std::min(queue.queued, queue.done + rng() % 8);
      uint8_t* space = ring.acquire(bytes);
      ASSERT_NE(space, nullptr);
      const size_t begin = static_cast<size_t>(space - pinned.memory.get());
      const size_t end = begin + std::max<size_t>(bytes, 1);
      ASSERT_EQ(begin % kUnit, 0u);
      ASSERT_LE(end, kCapacity);
      for (const Copy& c : copies) {
        if (c.position <= queue.done) continue;  // done: its space may be reused
        ASSERT_TRUE(end <= c.begin || c.end <= begin)
            << "seed " << seed << ", copy " << i << ": [" << begin << ", " << end
            << ") overlaps a copy in flight [" << c.begin << ", " << c.end << ")";
      }
      ring.queued();
      copies.push_back(Copy{begin, end, queue.queued});
      peak = std::max(peak, ring.in_flight());
    }
    // A marker is made only when none is spare: as many as were ever in flight at once.
    EXPECT_EQ(queue.recorded_at.size(), peak) << "seed " << seed;
  }
}

TEST(StagingRing, WaitsOnlyWhenFullAndThenForTheOldestCopy) {
  Pinned pinned(4 * kUnit);
  SimulatedQueue queue;
  StagingRing ring(pinned.memory.get(), 4 * kUnit, queue.ops());
  uint8_t* base = pinned.memory.get();
  for (int i = 0; i < 4; ++i) {  // the device does nothing: four fill the ring without a wait
    EXPECT_EQ(ring.acquire(kUnit), base + i * kUnit);
    ring.queued();
  }
  EXPECT_EQ(ring.waits(), 0u);
  EXPECT_EQ(ring.acquire(kUnit), base);  // the first copy's space, after waiting for it alone
  ring.queued();
  EXPECT_EQ(ring.waits(), 1u);
  EXPECT_EQ(queue.done, 1u);
}

TEST(StagingRing, WrapsToTheStartOnceTheCopiesThereAreDone) {
  Pinned pinned(4 * kUnit);
  SimulatedQueue queue;
  StagingRing ring(pinned.memory.get(), 4 * kUnit, queue.ops());
  uint8_t* base = pinned.memory.get();
  EXPECT_EQ(ring.acquire(2 * kUnit), base);  // [0, 2)
  ring.queued();
  EXPECT_EQ(ring.acquire(kUnit + 1), base + 2 * kUnit);  // rounded up: [2, 4)
  ring.queued();
  queue.done = 1;  // the first copy is done: its space at the start is free, with no wait
  EXPECT_EQ(ring.acquire(2 * kUnit), base);
  ring.queued();
  EXPECT_EQ(ring.waits(), 0u);
  // Wrapped: the only free space is the gap before the oldest copy in flight, here none, so a
  // request waits for the copy at [2, 4) and takes its place.
  EXPECT_EQ(ring.acquire(kUnit), base + 2 * kUnit);
  ring.queued();
  EXPECT_EQ(ring.waits(), 1u);
}

TEST(StagingRing, TooLargeIsRefusedAndTheWholeRingWaitsForEverything) {
  Pinned pinned(4 * kUnit);
  SimulatedQueue queue;
  StagingRing ring(pinned.memory.get(), 4 * kUnit, queue.ops());
  EXPECT_EQ(ring.acquire(4 * kUnit + 1), nullptr);  // the caller copies without staging
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(ring.acquire(kUnit), nullptr);
    ring.queued();
  }
  EXPECT_EQ(ring.acquire(4 * kUnit), pinned.memory.get());
  EXPECT_EQ(queue.done, 3u);  // all three before it
  ring.queued();
}

TEST(StagingRing, KeepsAtMostMaxInFlightMarkers) {
  constexpr size_t kCapacity = 2 * StagingRing::kMaxInFlight * kUnit;  // room is never the limit
  Pinned pinned(kCapacity);
  SimulatedQueue queue;
  StagingRing ring(pinned.memory.get(), kCapacity, queue.ops());
  for (size_t i = 0; i < StagingRing::kMaxInFlight + 10; ++i) {
    ASSERT_NE(ring.acquire(8), nullptr);
    ring.queued();
    ASSERT_LE(ring.in_flight(), StagingRing::kMaxInFlight);
  }
  EXPECT_EQ(ring.waits(), 10u);
  EXPECT_EQ(queue.recorded_at.size(), StagingRing::kMaxInFlight);
}

TEST(StagingRing, MisuseIsNamed) {
  Pinned pinned(4 * kUnit);
  SimulatedQueue queue;
  StagingRing ring(pinned.memory.get(), 4 * kUnit, queue.ops());
  test::expect_error([&] { ring.queued(); }, {"queued() without an acquired space"});
  ASSERT_NE(ring.acquire(1), nullptr);
  test::expect_error([&] { ring.acquire(1); }, {"before the previous space was queued()"});
  ring.abandon();  // its copy failed to queue: the space is free, and nothing is in flight
  EXPECT_EQ(ring.in_flight(), 0u);
  EXPECT_EQ(ring.acquire(4 * kUnit), pinned.memory.get());
  ring.queued();
  test::expect_error([&] { StagingRing(pinned.memory.get(), 100, queue.ops()); },
                     {"multiple", "100 bytes"});
}

}  // namespace
}  // namespace mindiff
