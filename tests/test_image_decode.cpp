// Image decoding behind checks (data/image_decode.h) and resizing that costs what the crop costs
// (data/resize.h): the defects issue #17 and fuzzing since found in the image-folder loader, each
// refused by name, while valid PNG and BMP files still decode to their pixels.
#include <cmath>
#include <tuple>

#include <stb/stb_image_write.h>

#include "data/file_io.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/resize.h"
#include "tests/temp_dir.h"
#include "tests/tiny_jpeg.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// A w x h image of `comp` channels whose byte i is i * 7 mod 256, encoded by stb_image_write.
enum class Format { Png, Bmp };
std::vector<uint8_t> encode(Format format, int w, int h, int comp) {
  std::vector<uint8_t> px(size_t(w * h * comp)), out;
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
  if (format == Format::Png) stbi_write_png_to_func(append, &out, w, h, comp, px.data(), w * comp);
  if (format == Format::Bmp) stbi_write_bmp_to_func(append, &out, w, h, comp, px.data());
  return out;
}

TEST(ImageDecode, ValidFilesDecodeToTheirPixels) {
  for (Format f : {Format::Png, Format::Bmp}) {
    const DecodedImage img = decode_image(encode(f, 5, 3, 3), "a", 3);
    EXPECT_EQ(img.width, 5);
    EXPECT_EQ(img.height, 3);
    ASSERT_EQ(img.pixels.size(), 45u);
    for (size_t i = 0; i < img.pixels.size(); ++i) EXPECT_EQ(img.pixels[i], uint8_t(i * 7)) << i;
  }
  EXPECT_EQ(decode_image(encode(Format::Png, 4, 4, 3), "a", 1).pixels.size(), 16u);  // to grey
}

// JPEG is refused (data/image_decode.h), valid or not: the report's 9 bytes, whose Huffman table
// of 510 codes made stbi__build_huffman write past size[257], and a valid JPEG (tests/tiny_jpeg.h).
TEST(ImageDecode, JpegIsRefusedByName) {
  const std::vector<uint8_t> report = {0xff, 0xd8, 0xff, 0xc4, 0x01, 0xdb, 0x00, 0xff, 0xff};
  for (const std::vector<uint8_t>& jpeg : {report, test::tiny_jpeg()})
    expect_error([&] { decode_image(jpeg, "x.jpg", 3); }, {"x.jpg", "JPEG is not decoded"});
}

TEST(ImageDecode, TruncatedBmpIsRefused) {
  // The report's BMP: 70 of its 134 bytes (5 x 5 RGB: 54 header bytes, 5 rows of 16).
  std::vector<uint8_t> bmp = encode(Format::Bmp, 5, 5, 3);
  ASSERT_EQ(bmp.size(), 134u);
  bmp.resize(70);
  expect_error([&] { decode_image(bmp, "cut.bmp", 3); }, {"cut.bmp", "truncated BMP", "70 bytes"});
}

// An empty IDAT chunk before the first one with data (found by fuzzing): stb copied its zero
// bytes into a buffer it had not allocated, a null pointer (UndefinedBehaviorSanitizer).
TEST(ImageDecode, PngWithAnEmptyFirstIdatOrCutShortIsRefused) {
  std::vector<uint8_t> png = encode(Format::Png, 4, 4, 3);
  const size_t after_ihdr = 8 + 12 + 13;  // the signature, then IHDR's frame and 13 data bytes
  const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};
  std::vector<uint8_t> bad = png;
  bad.insert(bad.begin() + after_ihdr, empty_idat, empty_idat + 12);
  expect_error([&] { decode_image(bad, "e.png", 3); }, {"e.png", "first IDAT chunk is empty"});
  png.resize(png.size() - 12);  // without its IEND chunk
  expect_error([&] { decode_image(png, "cut.png", 3); }, {"cut.png", "truncated PNG"});
}

TEST(ImageDecode, OtherFormatsAndHugeDimensionsAreRefused) {
  // The report's GIF declares 16163 x 16722 in 71 bytes; GIF is not decoded at all.
  std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 0x23, 0x3f, 0x52, 0x41};
  gif.resize(71, 0);
  expect_error([&] { decode_image(gif, "x.png", 3); }, {"x.png", "not a PNG or BMP"});
  // A PNG whose header announces 16163 x 16722 pixels (the size is checked before decoding).
  std::vector<uint8_t> png = encode(Format::Png, 2, 2, 3);
  const uint8_t dims[8] = {0, 0, 0x3f, 0x23, 0, 0, 0x41, 0x52};  // IHDR width, height (big-endian)
  std::copy(dims, dims + 8, png.begin() + 16);
  expect_error([&] { decode_image(png, "big.png", 3); }, {"big.png", "16163 x 16722", "more than"});
}

// Resizing computes only the centre crop: the same numbers as resizing everything and cropping,
// at a cost that follows the crop. A 1,000,000 x 1 PNG ended in std::bad_alloc, a 100000 x 1 one
// made training take 1.35 GB: the long side was resized in full (32 million pixels).
TEST(ImageDecode, ResizeComputesOnlyTheCrop) {
  for (auto [h, w, size] : {std::tuple{7, 23, 5}, std::tuple{23, 7, 5}, std::tuple{9, 9, 4},
                            std::tuple{3, 11, 8}}) {
    const std::vector<float> in = randn({2, h, w}, uint64_t(100 * h + w)).to_vector();
    const int64_t oh = h < w ? size : std::max<int64_t>(size, std::llround(double(h) * size / w));
    const int64_t ow = w < h ? size : std::max<int64_t>(size, std::llround(double(w) * size / h));
    const std::vector<float> full = resize_chw(in.data(), 2, h, w, oh, ow);
    std::vector<float> crop;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x)
          crop.push_back(full[(c * oh + (oh - size) / 2 + y) * ow + (ow - size) / 2 + x]);
    EXPECT_EQ(resize_short_side_center_crop(in.data(), 2, h, w, size), crop) << h << "x" << w;
  }
  // 8,000,000 x 1 to a 32-pixel square: resized in full, its 256-million-pixel rows took 32 GB.
  const std::vector<float> line(8000000, 0.5f);
  const std::vector<float> square = resize_short_side_center_crop(line.data(), 1, 1, 8000000, 32);
  ASSERT_EQ(square.size(), 32u * 32u);
  for (float v : square) EXPECT_NEAR(v, 0.5f, 1e-6f);
}

// The folder loader skips a refused file with a warning naming it and why, and keeps the rest.
TEST(ImageDecode, FolderLoaderSkipsRefusedFilesByName) {
  test::TempDir dir;
  write_file_atomic(dir.file("a.png"), encode(Format::Png, 6, 4, 3));
  write_file_atomic(dir.file("b.jpg"), {0xff, 0xd8, 0xff, 0xc4, 0x01, 0xdb, 0x00, 0xff, 0xff});
  std::vector<uint8_t> bmp = encode(Format::Bmp, 5, 5, 3);
  bmp.resize(70);
  write_file_atomic(dir.file("c.bmp"), bmp);
  write_file_atomic(dir.file("d.png"), encode(Format::Png, 100000, 1, 1));  // long and thin
  testing::internal::CaptureStderr();
  const Dataset ds = load_image_folder(dir.path, 4, 3);
  const std::string warnings = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ds.images.shape(), Shape({2, 3, 4, 4}));
  for (const char* part : {"b.jpg", "JPEG is not decoded", "c.bmp", "truncated BMP"})
    EXPECT_NE(warnings.find(part), std::string::npos) << part << " not in: " << warnings;
}

}  // namespace
}  // namespace mindiff
