// Resizing (data/resize.*) with hand-computed values, and image folders (data/image_folder.*):
// PNG files written with stb_image_write load in name order with the right size and values, a
// garbage file and a JPEG (refused: data/image_decode.h) are skipped with a warning naming them,
// and empty or missing folders are errors.
#include <fstream>

#include <stb/stb_image_write.h>

#include "data/file_io.h"
#include "data/image_folder.h"
#include "data/resize.h"
#include "tests/temp_dir.h"
#include "tests/tiny_jpeg.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::expect_near_all;
using test::TempDir;

TEST(DataResize, AreaAverageWhenShrinking) {
  // 4x4 -> 2x2 with s = 2: each output is the mean of its 2x2 block.
  // Rows: 0 1 2 3 / 4 5 6 7 / 8 9 10 11 / 12 13 14 15; block (0,0) = (0+1+4+5)/4 = 2.5, etc.
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[i] = float(i);
  expect_near_all(resize_chw(in.data(), 1, 4, 4, 2, 2), {2.5f, 4.5f, 10.5f, 12.5f}, 1e-5f);
  // 1x3 -> 1x2 with s = 1.5: output 0 covers [0, 1.5): (1 a + 0.5 b) / 1.5 = (2a + b) / 3;
  // output 1 covers [1.5, 3): (b + 2c) / 3. With a, b, c = 3, 6, 9: 4 and 8.
  std::vector<float> row = {3, 6, 9};
  expect_near_all(resize_chw(row.data(), 1, 1, 3, 1, 2), {4.0f, 8.0f}, 1e-5f);
}

TEST(DataResize, BilinearWhenEnlarging) {
  // 1x2 [0, 1] -> 1x4 with s = 0.5: centres map to x = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75,
  // 1.25, clamped to [0, 1], so the values are 0, 0.25, 0.75, 1.
  std::vector<float> in = {0, 1};
  expect_near_all(resize_chw(in.data(), 1, 1, 2, 1, 4), {0, 0.25f, 0.75f, 1}, 1e-6f);
  // Same size is the identity, on every channel.
  std::vector<float> img = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  expect_near_all(resize_chw(img.data(), 2, 2, 3, 2, 3), img, 0);
}

TEST(DataResize, ShortSideThenCenterCrop) {
  // 2x4 (H x W) to size 1: short side 2 -> 1 (s = 2), long side 4 -> 2, giving the two 2x2
  // block means; the central 1x1 crop (left = (2 - 1) / 2 = 0) is the first one.
  // Rows 0 1 2 3 / 4 5 6 7: block means (0+1+4+5)/4 = 2.5 and 4.5.
  std::vector<float> in = {0, 1, 2, 3, 4, 5, 6, 7};
  expect_near_all(resize_short_side_center_crop(in.data(), 1, 2, 4, 1), {2.5f}, 1e-6f);
  // 4x2 to size 2: already the short side; crop the middle two rows of 4: rows 1 and 2.
  expect_near_all(resize_short_side_center_crop(in.data(), 1, 4, 2, 2), {2, 3, 4, 5}, 0);
  // A constant image stays constant at any size, up or down.
  std::vector<float> flat(5 * 7, 42.0f);
  for (float v : resize_short_side_center_crop(flat.data(), 1, 5, 7, 3)) EXPECT_NEAR(v, 42, 1e-4);
  for (float v : resize_short_side_center_crop(flat.data(), 1, 5, 7, 11)) EXPECT_NEAR(v, 42, 1e-4);
}

// A w x h RGB image filled with one colour, as interleaved bytes.
std::vector<uint8_t> solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), {r, g, b});
  return px;
}

TEST(DataImageFolder, LoadsSortedSkipsGarbage) {
  TempDir dir;
  // b.png: 6x4 solid (255, 0, 51); a.PNG: 3x5 solid grey 102; c.png: 8x8 solid (0, 255, 0);
  // bad.png: not an image; d.jpg: refused; notes.txt: ignored (not an image extension).
  std::vector<uint8_t> b = solid(6, 4, 255, 0, 51), a = solid(3, 5, 102, 102, 102),
                       c = solid(8, 8, 0, 255, 0);
  ASSERT_TRUE(stbi_write_png(dir.file("b.png").c_str(), 6, 4, 3, b.data(), 6 * 3));
  ASSERT_TRUE(stbi_write_png(dir.file("a.PNG").c_str(), 3, 5, 3, a.data(), 3 * 3));
  ASSERT_TRUE(stbi_write_png(dir.file("c.png").c_str(), 8, 8, 3, c.data(), 8 * 3));
  write_file_atomic(dir.file("d.jpg"), test::tiny_jpeg());
  std::ofstream(dir.file("bad.png")) << "this is not a PNG";
  std::ofstream(dir.file("notes.txt")) << "ignored";

  ::testing::internal::CaptureStderr();
  Dataset ds = load_image_folder(dir.path, 4, 3);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(dir.file("bad.png")), std::string::npos) << err;
  EXPECT_NE(err.find(dir.file("d.jpg") + "': JPEG is not decoded"), std::string::npos) << err;
  EXPECT_EQ(err.find("notes.txt"), std::string::npos) << err;

  // Sorted: "a.PNG" < "b.png" < "bad.png" (skipped) < "c.png" < "d.jpg" (skipped).
  ASSERT_EQ(ds.images.shape(), Shape({3, 3, 4, 4}));
  EXPECT_FALSE(ds.labeled());
  EXPECT_EQ(ds.num_classes, 0);
  // Solid colours survive resizing exactly (PNG is lossless): byte v -> v / 127.5 - 1.
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      EXPECT_NEAR(ds.images.at({0, 1, y, x}), 102 / 127.5f - 1, 1e-5f);
      EXPECT_NEAR(ds.images.at({1, 0, y, x}), 1.0f, 1e-5f);
      EXPECT_NEAR(ds.images.at({1, 1, y, x}), -1.0f, 1e-5f);
      EXPECT_NEAR(ds.images.at({1, 2, y, x}), 51 / 127.5f - 1, 1e-5f);
      EXPECT_NEAR(ds.images.at({2, 1, y, x}), 1.0f, 1e-5f);
    }

  // Grayscale: grey 102 stays 102 (stb's luma weights sum to 1).
  ::testing::internal::CaptureStderr();
  Dataset g = load_image_folder(dir.path, 2, 1);
  ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(g.images.shape(), Shape({3, 1, 2, 2}));
  EXPECT_NEAR(g.images.at({0, 0, 1, 1}), 102 / 127.5f - 1, 1e-5f);
}

TEST(DataImageFolder, Errors) {
  TempDir dir;
  const std::string d = dir.path;
  expect_error([&] { load_image_folder(d, 8); }, {d, "no decodable"});
  std::ofstream(dir.file("junk.jpg")) << "garbage";
  ::testing::internal::CaptureStderr();
  expect_error([&] { load_image_folder(d, 8); }, {d, "no decodable", "1 candidate"});
  ::testing::internal::GetCapturedStderr();
  expect_error([&] { load_image_folder(d + "/missing", 8); }, {d + "/missing", "does not exist"});
  expect_error([&] { load_image_folder(d, 8, 2); }, {"channels must be 1 or 3"});
}

}  // namespace
}  // namespace mindiff
