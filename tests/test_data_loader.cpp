// DataLoader (data/loader.*): every example exactly once per epoch, same seed same order,
// uniform shuffles, resuming from a saved cursor reproduces an uninterrupted run (flips included),
// flips mirror along W, sharded ranks split each global batch, and option errors.
#include <algorithm>
#include <map>
#include <set>

#include "data/loader.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

// n images [n, 2, 3, 4] whose every value identifies its example and position:
// image i, element e holds 100 i + e. Label of example i: i % 3.
Dataset numbered(int64_t n) {
  Dataset ds;
  ds.name = "numbered";
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i)
    for (int e = 0; e < 24; ++e) v.push_back(float(100 * i + e));
  ds.images = from_data(v, {n, 2, 3, 4});
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(i % 3);
  ds.num_classes = 3;
  return ds;
}

TEST(DataLoader, EveryExampleOncePerEpoch) {
  Dataset ds = numbered(10);
  LoaderOptions opt;
  opt.batch_size = 3;
  opt.seed = 1;
  opt.drop_last = false;
  DataLoader loader(ds, opt);
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (int k = 0; k < 4; ++k) {
      Batch b = loader.next_batch();
      EXPECT_EQ(b.epoch, epoch);
      EXPECT_EQ(b.images.size(0), k < 3 ? 3 : 1);  // 10 = 3 + 3 + 3 + 1
      for (size_t j = 0; j < b.indices.size(); ++j) {
        const int64_t i = b.indices[j];
        seen.push_back(i);
        EXPECT_EQ(b.labels[j], i % 3);
        // The copied image is example i's: element e = 100 i + e.
        EXPECT_EQ(b.images.at({int64_t(j), 1, 2, 3}), float(100 * i + 23));
      }
    }
    std::sort(seen.begin(), seen.end());
    for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(seen[size_t(i)], i);
    EXPECT_EQ(loader.cursor().epoch, epoch + 1);  // the epoch's end moves the cursor on
    EXPECT_EQ(loader.cursor().position, 0u);
  }
  // drop_last: 3 full batches, 9 distinct examples, then the next epoch.
  opt.drop_last = true;
  DataLoader dropping(ds, opt);
  EXPECT_EQ(dropping.batches_per_epoch(), 3);
  std::set<int64_t> distinct;
  for (int k = 0; k < 3; ++k)
    for (int64_t i : dropping.next_batch().indices) distinct.insert(i);
  EXPECT_EQ(distinct.size(), 9u);
  EXPECT_EQ(dropping.cursor().epoch, 1u);
}

TEST(DataLoader, SeededOrder) {
  Dataset ds = numbered(50);
  LoaderOptions opt;
  opt.batch_size = 10;
  opt.seed = 7;
  DataLoader a(ds, opt), b(ds, opt);
  EXPECT_EQ(a.epoch_order(0), b.epoch_order(0));
  EXPECT_NE(a.epoch_order(0), a.epoch_order(1));  // a new order every epoch
  opt.seed = 8;
  EXPECT_NE(DataLoader(ds, opt).epoch_order(0), a.epoch_order(0));
  opt.shuffle = false;
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i) identity[size_t(i)] = i;
  EXPECT_EQ(DataLoader(ds, opt).epoch_order(3), identity);
}

TEST(DataLoader, ShuffleIsUniform) {
  // Over 6000 epochs of a 3-element set each of the 6 orders should appear ~1000 times
  // (binomial sd 28.9). Known wrong shuffles fail: drawing j from [0, n) instead of [0, i]
  // makes 27 equally likely swap sequences, so orders get 4/27 or 5/27 (889 or 1111 expected,
  // chi-square ~ 74); drawing j from [0, i) (Sattolo) reaches only the 2 cyclic orders.
  LoaderOptions opt;
  opt.batch_size = 1;
  opt.seed = 3;
  DataLoader loader(numbered(3), opt);
  std::map<std::vector<int64_t>, int> count;
  for (uint64_t e = 0; e < 6000; ++e) ++count[loader.epoch_order(e)];
  ASSERT_EQ(count.size(), 6u);
  double chi2 = 0;
  for (const auto& kv : count) {
    EXPECT_NEAR(kv.second, 1000, 100);  // 3.5 sd
    chi2 += (kv.second - 1000.0) * (kv.second - 1000.0) / 1000.0;
  }
  // chi-square with 5 degrees of freedom: P(chi2 > 20.5) = 0.001.
  EXPECT_LT(chi2, 20.5);
}

TEST(DataLoader, CursorResumeReproducesBatches) {
  Dataset ds = numbered(11);
  LoaderOptions opt;
  opt.batch_size = 4;  // 2 batches per epoch (drop_last): the runs cross epoch boundaries
  opt.seed = 99;
  opt.hflip = true;
  DataLoader full(ds, opt);
  std::vector<Batch> want;
  for (int k = 0; k < 7; ++k) want.push_back(full.next_batch());

  DataLoader first(ds, opt);
  for (int k = 0; k < 3; ++k) first.next_batch();
  const LoaderCursor saved = first.cursor();
  EXPECT_EQ(saved.epoch, 1u);
  EXPECT_EQ(saved.position, 4u);
  LoaderOptions other = opt;
  other.seed = 12345;  // the cursor's seed wins
  DataLoader resumed(ds, other);
  resumed.set_cursor(saved);
  for (int k = 3; k < 7; ++k) {
    Batch b = resumed.next_batch();
    EXPECT_EQ(b.indices, want[size_t(k)].indices) << "batch " << k;
    EXPECT_EQ(b.flipped, want[size_t(k)].flipped) << "batch " << k;
    EXPECT_EQ(b.images.to_vector(), want[size_t(k)].images.to_vector()) << "batch " << k;
    EXPECT_EQ(b.epoch, want[size_t(k)].epoch);
  }
  EXPECT_EQ(resumed.cursor().str(), full.cursor().str());
  expect_error([&] { resumed.set_cursor({0, 12, 99}); }, {"past the end", "numbered", "11"});
}

TEST(DataLoader, FlipsMirrorAlongWidth) {
  Dataset ds = numbered(64);
  LoaderOptions opt;
  opt.batch_size = 64;
  opt.hflip = true;
  opt.seed = 5;
  DataLoader loader(ds, opt);
  Batch b = loader.next_batch();
  int flips = 0;
  for (int64_t k = 0; k < 64; ++k) {
    const int64_t i = b.indices[size_t(k)];
    flips += b.flipped[size_t(k)];
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 4; ++x) {
          // Unflipped: element (c, y, x) = 100 i + 12 c + 4 y + x; flipped reads column 3 - x.
          const int64_t sx = b.flipped[size_t(k)] ? 3 - x : x;
          ASSERT_EQ(b.images.at({k, c, y, x}), float(100 * i + 12 * c + 4 * y + sx));
        }
  }
  // About half are flipped (binomial(64, 1/2): sd 4).
  EXPECT_GT(flips, 16);
  EXPECT_LT(flips, 48);
  // Off by default.
  opt.hflip = false;
  Batch plain = DataLoader(ds, opt).next_batch();
  for (uint8_t f : plain.flipped) EXPECT_EQ(f, 0);
}

TEST(DataLoader, ShardsSplitTheGlobalBatch) {
  Dataset ds = numbered(20);
  LoaderOptions one;
  one.batch_size = 6;
  one.seed = 4;
  one.hflip = true;
  DataLoader single(ds, one);
  LoaderOptions shard = one;
  shard.batch_size = 3;
  shard.world_size = 2;
  shard.rank = 0;
  DataLoader r0(ds, shard);
  shard.rank = 1;
  DataLoader r1(ds, shard);
  for (int step = 0; step < 5; ++step) {  // 3 global batches per epoch: crosses an epoch
    Batch g = single.next_batch(), a = r0.next_batch(), b = r1.next_batch();
    std::vector<int64_t> joined = a.indices;
    joined.insert(joined.end(), b.indices.begin(), b.indices.end());
    EXPECT_EQ(joined, g.indices) << "step " << step;
    std::vector<uint8_t> flips = a.flipped;
    flips.insert(flips.end(), b.flipped.begin(), b.flipped.end());
    EXPECT_EQ(flips, g.flipped) << "step " << step;
    EXPECT_EQ(r0.cursor().str(), single.cursor().str());
  }
}

TEST(DataLoader, UnlabeledAndVectorData) {
  Dataset ds;
  ds.name = "points";
  ds.images = randn({7, 2}, 1);
  LoaderOptions opt;
  opt.batch_size = 7;
  Batch b = DataLoader(ds, opt).next_batch();
  EXPECT_EQ(b.images.shape(), Shape({7, 2}));
  EXPECT_TRUE(b.labels.empty());
}

TEST(DataLoader, Errors) {
  Dataset ds = numbered(5);
  LoaderOptions opt;
  opt.batch_size = 6;
  expect_error([&] { DataLoader(ds, opt); }, {"batch of 6", "5 examples", "numbered"});
  opt.batch_size = 2;
  opt.world_size = 2;
  opt.rank = 2;
  expect_error([&] { DataLoader(ds, opt); }, {"rank 2", "world size 2"});
  opt.rank = 0;
  opt.drop_last = false;
  expect_error([&] { DataLoader(ds, opt); }, {"drop_last"});
  opt = LoaderOptions();
  opt.batch_size = 2;
  Dataset bad = ds;
  bad.labels.pop_back();
  expect_error([&] { DataLoader(bad, opt); }, {"4 labels for 5 examples"});
  Dataset flat;
  flat.name = "flat";
  flat.images = zeros({5, 2});
  opt.hflip = true;
  expect_error([&] { DataLoader(flat, opt); }, {"flips", "[5, 2]"});
}

}  // namespace
}  // namespace mindiff
