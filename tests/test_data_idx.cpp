// IDX files (data/idx.*): a small gzipped images/labels pair written here round trips with the
// right values and scaling, malformed files give errors naming the file, and the real
// Fashion-MNIST files (when installed) load with the documented sizes.
#include <cmath>

#include "data/file_io.h"
#include "data/gzip.h"
#include "data/idx.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::TempDir;

// IDX bytes for unsigned-byte data with the given extents (big-endian header, see idx.h).
std::vector<uint8_t> make_idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) b.push_back(uint8_t(d >> (8 * k)));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// Three 2x3 images whose pixel j of image i is 40 i + 50 j (so pixel values 0..205), labels 2 0 1.
struct SmallSet {
  std::vector<uint8_t> pixels, labels = {2, 0, 1};
  SmallSet() {
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 6; ++j) pixels.push_back(uint8_t(40 * i + 50 * j));
  }
};

TEST(DataIdx, GzippedRoundTrip) {
  TempDir dir;
  SmallSet s;
  write_file_atomic(dir.file("img.gz"), gzip_store(make_idx({3, 2, 3}, s.pixels)));
  write_file_atomic(dir.file("lab.gz"), gzip_store(make_idx({3}, s.labels)));
  Dataset ds = load_mnist_idx(dir.file("img.gz"), dir.file("lab.gz"));
  EXPECT_EQ(ds.images.shape(), Shape({3, 1, 2, 3}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(ds.num_classes, 3);  // max label + 1
  EXPECT_TRUE(ds.class_names.empty());
  std::vector<float> v = ds.images.to_vector();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(v[i], s.pixels[i] / 127.5f - 1.0f);
  // Pixel 1 of image 2 is 80 + 50 = 130 -> 130/127.5 - 1 = 0.0196078.
  EXPECT_NEAR(ds.images.at({2, 0, 0, 1}), 0.0196078f, 1e-6f);
}

TEST(DataIdx, PlainFilesAndScalingEnds) {
  TempDir dir;
  // Bytes 0 and 255 map exactly to -1 and +1.
  write_file_atomic(dir.file("img"), make_idx({1, 1, 2}, {0, 255}));
  write_file_atomic(dir.file("lab"), make_idx({1}, {0}));
  Dataset ds = load_mnist_idx(dir.file("img"), dir.file("lab"));
  EXPECT_EQ(ds.images.to_vector(), (std::vector<float>{-1.0f, 1.0f}));
}

TEST(DataIdx, MalformedFilesNameTheFile) {
  TempDir dir;
  SmallSet s;
  const std::string img = dir.file("img"), lab = dir.file("lab");
  write_file_atomic(lab, make_idx({3}, s.labels));
  auto load = [&] { load_mnist_idx(img, lab); };

  std::vector<uint8_t> good = make_idx({3, 2, 3}, s.pixels);
  write_file_atomic(img, std::vector<uint8_t>(good.begin(), good.end() - 1));
  expect_error(load, {img, "length mismatch", "truncated"});
  std::vector<uint8_t> padded = good;
  padded.push_back(0);
  write_file_atomic(img, padded);
  expect_error(load, {img, "length mismatch"});
  std::vector<uint8_t> magic = good;
  magic[0] = 1;
  write_file_atomic(img, magic);
  expect_error(load, {img, "magic"});
  std::vector<uint8_t> type = good;
  type[2] = 0x0D;  // float32 in IDX terms
  write_file_atomic(img, type);
  expect_error(load, {img, "type code 0xd"});
  write_file_atomic(img, std::vector<uint8_t>(good.begin(), good.begin() + 9));
  expect_error(load, {img, "truncated IDX header"});
  // Huge extents must be rejected, not multiplied into an overflow or a huge allocation.
  write_file_atomic(img, make_idx({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
  expect_error(load, {img, "need more bytes"});
  // Wrong rank: the labels file passed as images.
  expect_error([&] { load_mnist_idx(lab, lab); }, {lab, "rank 3"});
  // Count mismatch names both files.
  write_file_atomic(img, good);
  write_file_atomic(lab, make_idx({2}, {0, 1}));
  expect_error(load, {lab, img, "does not match"});
  // Missing file and corrupt gzip.
  expect_error([&] { load_mnist_idx(dir.file("nope"), lab); }, {dir.file("nope"), "no such file"});
  std::vector<uint8_t> gz = gzip_store(good);
  gz[gz.size() - 9] ^= 1;  // last data byte
  write_file_atomic(img, gz);
  expect_error(load, {img, "CRC-32"});
}

TEST(DataIdx, FashionMnist) {
  const std::string probe = std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(probe)) GTEST_SKIP() << probe << " absent (make deps installs it)";
  for (const char* split : {"train", "test"}) {
    Dataset ds = load_fashion_mnist(split);
    const int64_t n = std::string(split) == "train" ? 60000 : 10000;
    EXPECT_EQ(ds.images.shape(), Shape({n, 1, 28, 28}));
    ASSERT_EQ(int64_t(ds.labels.size()), n);
    EXPECT_EQ(ds.num_classes, 10);
    ASSERT_EQ(ds.class_names.size(), 10u);
    EXPECT_EQ(ds.class_names[9], "Ankle boot");
    // Values in [-1, 1] with both ends reached (black background, white pixels), and each class
    // equally represented (6000 or 1000 each, as documented for the set).
    const float* p = ds.images.data();
    float lo = 2, hi = -2;
    for (int64_t i = 0; i < ds.images.numel(); ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
    EXPECT_EQ(lo, -1.0f);
    EXPECT_EQ(hi, 1.0f);
    std::vector<int64_t> count(10, 0);
    for (int64_t y : ds.labels) {
      ASSERT_TRUE(y >= 0 && y < 10);
      ++count[y];
    }
    for (int64_t c : count) EXPECT_EQ(c, n / 10);
  }
  expect_error([] { load_fashion_mnist("valid"); }, {"unknown split 'valid'"});
}

}  // namespace
}  // namespace mindiff
