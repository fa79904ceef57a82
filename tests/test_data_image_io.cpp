// PNG grids and .npy files (data/image_io.*): the grid layout and pixel mapping by hand, a PNG
// written and read back with stb_image, the exact .npy header bytes, round trips, and errors.
#include <cmath>
#include <filesystem>
#include <limits>

#include <stb/stb_image.h>

#include "data/file_io.h"
#include "data/image_io.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::TempDir;

TEST(DataImageIo, GridLayoutAndPixelMapping) {
  // 3 grey 1x2 images, 2 columns, pad 1: grid width 2 (2 + 1) + 1 = 7, height 2 (1 + 1) + 1 = 5.
  // Image 0 = [-1, 1] -> bytes 0, 255; image 1 = [0, 0.5] -> round(127.5) = 128 (lround rounds
  // half away from zero), round(191.25) = 191; image 2 = [2, NaN] -> clamped 255, NaN -> 0.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor t = from_data({-1, 1, 0, 0.5f, 2, nan}, {3, 1, 1, 2});
  ImageBytes g = image_grid(t, 2, 1);
  EXPECT_EQ(g.width, 7);
  EXPECT_EQ(g.height, 5);
  EXPECT_EQ(g.channels, 1);
  // Tile 0 at (1, 1), tile 1 at (1, 4), tile 2 at (3, 1); everything else is padding (0).
  std::vector<uint8_t> want(35, 0);
  want[1 * 7 + 1] = 0, want[1 * 7 + 2] = 255;
  want[1 * 7 + 4] = 128, want[1 * 7 + 5] = 191;
  want[3 * 7 + 1] = 255, want[3 * 7 + 2] = 0;
  EXPECT_EQ(g.pixels, want);
}

TEST(DataImageIo, PngGridReadsBack) {
  TempDir dir;
  // 5 RGB 4x3 images through a non-contiguous view (permuted from NHWC storage), 3 columns,
  // pad 2: width 3 (3 + 2) + 2 = 17, height 2 (4 + 2) + 2 = 14. Image i, channel c is constant
  // (i + c) / 4 - 1, so its byte is round(((i + c) / 4) * 127.5).
  Tensor nhwc = empty({5, 4, 3, 3});
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 3; ++x)
        for (int64_t c = 0; c < 3; ++c) nhwc.set({i, y, x, c}, (i + c) / 4.0f - 1.0f);
  Tensor nchw = nhwc.permute({0, 3, 1, 2});
  ASSERT_FALSE(nchw.is_contiguous());
  const std::string path = dir.file("grid.png");
  write_image_grid(path, nchw, 3);
  EXPECT_FALSE(std::filesystem::exists(atomic_temp_path(path)));
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, 0);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(w, 17);
  EXPECT_EQ(h, 14);
  EXPECT_EQ(c, 3);
  auto at = [&](int y, int x, int ch) { return int(px[(y * w + x) * 3 + ch]); };
  // Image 4 is in row 1, column 1: top-left pixel (2 + 6, 2 + 5) = (8, 7); channel 2 holds
  // round(6 / 4 * 127.5) = round(191.25) = 191.
  EXPECT_EQ(at(8, 7, 2), 191);
  EXPECT_EQ(at(11, 9, 0), 128);  // its bottom-right pixel, channel 0: round(127.5) = 128
  EXPECT_EQ(at(0, 0, 0), 0);     // padding
  EXPECT_EQ(at(8, 12, 1), 0);    // the empty sixth cell
  EXPECT_EQ(at(2, 2, 0), 0);     // image 0, channel 0: -1 -> 0
  stbi_image_free(px);
}

TEST(DataImageIo, GridErrors) {
  const std::string bad = "/nonexistent_mindiff_folder/grid.png";
  expect_error([&] { write_image_grid(bad, zeros({1, 1, 2, 2})); }, {bad});
  expect_error([&] { write_image_grid("x.png", zeros({1, 2, 2, 2})); }, {"1 or 3 channels",
                                                                         "[1, 2, 2, 2]"});
  expect_error([&] { write_image_grid("x.png", zeros({2, 2})); }, {"[N, C, H, W]", "[2, 2]"});
}

TEST(DataImageIo, NpyHeaderBytes) {
  TempDir dir;
  const std::string path = dir.file("a.npy");
  write_npy(path, from_data({1, 2, 3, 4, 5, 6}, {2, 3}));
  std::vector<uint8_t> b = read_file(path);
  // The dictionary below is 59 characters; with the 10-byte prefix and the final '\n' that is
  // 70, padded to 128: header length 118 and the data (6 floats) starts at byte 128.
  ASSERT_EQ(b.size(), 128u + 24u);
  EXPECT_EQ(std::string(b.begin() + 1, b.begin() + 6), "NUMPY");
  EXPECT_EQ(b[0], 0x93);
  EXPECT_EQ(b[6], 1);   // version 1.0
  EXPECT_EQ(b[7], 0);
  EXPECT_EQ(b[8], 118);  // header length, little-endian
  EXPECT_EQ(b[9], 0);
  const std::string header(b.begin() + 10, b.begin() + 128);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u)
      << header;
  EXPECT_EQ(header.back(), '\n');
  // 1.0f is 00 00 80 3f in little-endian IEEE 754.
  EXPECT_EQ(header.find_first_not_of(' ', 59), header.size() - 1);  // spaces up to the '\n'
  EXPECT_EQ(std::vector<uint8_t>(b.begin() + 128, b.begin() + 132),
            (std::vector<uint8_t>{0, 0, 0x80, 0x3f}));
}

TEST(DataImageIo, NpyRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  for (const Shape& s : {Shape({5}), Shape({2, 3, 4, 5}), Shape({}), Shape({3, 0})}) {
    Tensor t = randn(s, 3);
    write_npy(path, t);
    Tensor back = read_npy(path);
    EXPECT_EQ(back.shape(), s) << s.str();
    EXPECT_EQ(back.to_vector(), t.to_vector()) << s.str();
    // Every header is padded so the data is 64-byte aligned.
    EXPECT_EQ((read_file(path).size() - size_t(t.numel()) * 4) % 64, 0u) << s.str();
  }
  // Rank 1 is written with the trailing comma Python needs: (5,).
  write_npy(path, zeros({5}));
  std::vector<uint8_t> b = read_file(path);
  EXPECT_NE(std::string(b.begin(), b.end()).find("'shape': (5,)"), std::string::npos);
  // Non-contiguous input is written in logical order.
  Tensor tr = from_data({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);
  write_npy(path, tr);
  EXPECT_EQ(read_npy(path).to_vector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(DataImageIo, NpyErrors) {
  TempDir dir;
  const std::string path = dir.file("e.npy");
  write_npy(path, zeros({2, 3}));
  std::vector<uint8_t> good = read_file(path);
  const size_t data_at = 10 + good[8];  // 128, see NpyHeaderBytes

  auto with = [&](std::vector<uint8_t> bytes) {
    write_file_atomic(path, bytes);
    return [&] { read_npy(path); };
  };
  std::vector<uint8_t> b = good;
  b[1] = 'X';
  expect_error(with(b), {path, "bad magic"});
  b = good;
  b[10 + 12] = 'i';  // '<f4' -> '<i4'
  expect_error(with(b), {path, "'<i4'", "not supported"});
  b = good;
  b.pop_back();
  expect_error(with(b), {path, "[2, 3]", "24 data bytes", "23"});
  std::string h(good.begin() + 10, good.begin() + data_at);
  h.replace(h.find("False"), 5, "True ");
  b = good;
  std::copy(h.begin(), h.end(), b.begin() + 10);
  expect_error(with(b), {path, "Fortran"});
  h = std::string(good.begin() + 10, good.begin() + data_at);
  h.replace(h.find("(2, 3), "), 8, "(9999999999999, 9)");  // huge: rejected before allocating
  b = std::vector<uint8_t>(good.begin(), good.begin() + 10);
  b[8] = uint8_t(h.size());
  b.insert(b.end(), h.begin(), h.end());
  expect_error(with(b), {path, "needs more data"});
  expect_error([&] { read_npy(dir.file("none.npy")); }, {dir.file("none.npy"), "no such file"});
  const std::string unwritable = "/nonexistent_mindiff_folder/t.npy";
  expect_error([&] { write_npy(unwritable, zeros({1})); }, {unwritable, "not writable"});
}

}  // namespace
}  // namespace mindiff
