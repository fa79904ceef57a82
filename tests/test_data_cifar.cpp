// CIFAR-10 binary records (data/cifar10.*) on tiny synthetic files: channel planes land in CHW
// order with the right scaling, train/test file sets, the nested archive folder, and errors for
// missing files and lengths that are not a multiple of 3073 bytes.
#include <filesystem>

#include "data/cifar10.h"
#include "data/file_io.h"
#include "data/gzip.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::TempDir;

// `n` records; record r has label (r + first) % 10, and its channel c, pixel p holds
// (r + 3 c + p) % 256, so every position identifies its record, channel and pixel.
std::vector<uint8_t> make_records(int n, int first = 0) {
  std::vector<uint8_t> b;
  for (int r = 0; r < n; ++r) {
    b.push_back(uint8_t((r + first) % 10));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) b.push_back(uint8_t((r + 3 * c + p) % 256));
  }
  return b;
}

TEST(DataCifar, RecordLayoutIsChw) {
  std::vector<int64_t> labels;
  std::vector<uint8_t> bytes = make_records(2, 7);
  ASSERT_EQ(cifar10_record_count(bytes, "mem"), 2);
  std::vector<float> pixels(2 * 3072);
  parse_cifar10_records(bytes, "mem", labels, pixels.data());
  EXPECT_EQ(labels, (std::vector<int64_t>{7, 8}));
  // Record 1, channel 2 (blue), row 3, column 5: pixel p = 3*32 + 5 = 101, byte (1 + 6 + 101) =
  // 108, value 108 / 127.5 - 1 = -0.152941.
  EXPECT_NEAR(pixels[1 * 3072 + 2 * 1024 + 3 * 32 + 5], -0.152941f, 1e-6f);
}

TEST(DataCifar, TrainAndTestSplits) {
  TempDir dir;
  // The official archive unpacks into cifar-10-batches-bin/; the loader finds it there.
  const std::string sub = dir.file("cifar-10-batches-bin");
  std::filesystem::create_directories(sub);
  for (int k = 1; k <= 5; ++k)
    write_file_atomic(sub + "/data_batch_" + std::to_string(k) + ".bin", make_records(2, 2 * k));
  write_file_atomic(sub + "/test_batch.bin", gzip_store(make_records(3)));  // gzipped works too
  Dataset train = load_cifar10(dir.path, "train");
  EXPECT_EQ(train.images.shape(), Shape({10, 3, 32, 32}));
  EXPECT_EQ(train.labels, (std::vector<int64_t>{2, 3, 4, 5, 6, 7, 8, 9, 0, 1}));
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.class_names[3], "cat");
  Dataset test = load_cifar10(sub, "test");
  EXPECT_EQ(test.images.shape(), Shape({3, 3, 32, 32}));
  // Record 2, channel 1, pixel 0 holds byte 2 + 3 = 5 -> 5/127.5 - 1.
  EXPECT_FLOAT_EQ(test.images.at({2, 1, 0, 0}), 5 / 127.5f - 1.0f);
}

TEST(DataCifar, Errors) {
  TempDir dir;
  const std::string d = dir.path;
  expect_error([&] { load_cifar10(d + "/nope"); }, {d + "/nope", "does not exist"});
  write_file_atomic(dir.file("test_batch.bin"), make_records(1));
  expect_error([&] { load_cifar10(d, "train"); }, {"data_batch_1.bin", "missing"});
  std::vector<uint8_t> rec = make_records(2);
  rec.pop_back();
  write_file_atomic(dir.file("test_batch.bin"), rec);
  expect_error([&] { load_cifar10(d, "test"); }, {dir.file("test_batch.bin"), "6145",
                                                  "multiple of the CIFAR-10 record size 3073"});
  rec = make_records(1);
  rec[0] = 12;
  write_file_atomic(dir.file("test_batch.bin"), rec);
  expect_error([&] { load_cifar10(d, "test"); }, {"label 12"});
  expect_error([&] { load_cifar10(d, "dev"); }, {"unknown split 'dev'"});
}

}  // namespace
}  // namespace mindiff
