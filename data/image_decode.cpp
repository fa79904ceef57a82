// Image decoding behind checks; see image_decode.h.
#include "data/image_decode.h"

#include <climits>
#include <cstring>

#include <stb/stb_image.h>

#include "tensor/checked.h"
#include "tensor/error.h"

namespace mindiff {

namespace {

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

bool looks_like_png(const uint8_t* b, size_t n) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return n >= 8 && std::memcmp(b, kSignature, 8) == 0;
}

bool looks_like_bmp(const uint8_t* b, size_t n) { return n >= 2 && b[0] == 'B' && b[1] == 'M'; }

// The start-of-image marker ff d8 and the 0xFF of the marker after it.
bool looks_like_jpeg(const uint8_t* b, size_t n) {
  return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// A PNG's chunks (length, type, data, CRC) must lie within the file up to the IEND chunk, and
// its first IDAT chunk must not be empty: stb copies it into a buffer it has not allocated yet
// (memcpy to a null pointer, found by fuzzing).
void check_png(const uint8_t* b, size_t n, const std::string& name) {
  constexpr size_t kSignature = 8, kChunkFrame = 12;  // length, type, CRC
  bool seen_idat = false;
  for (size_t i = kSignature;;) {
    MD_CHECK(n - i >= kChunkFrame && be32(b + i) <= n - i - kChunkFrame, "'", name,
             "': truncated PNG: the file ends inside a chunk, before IEND");
    const uint32_t length = be32(b + i);
    const std::string type(reinterpret_cast<const char*>(b + i + 4), 4);
    if (type == "IEND") return;
    if (type == "IDAT") {
      MD_CHECK(seen_idat || length > 0, "'", name, "': corrupt PNG: its first IDAT chunk is empty");
      seen_idat = true;
    }
    i += kChunkFrame + length;
  }
}

// A BMP must hold every row its header announces: the pixel rows start at the offset in the
// file header and take ceil(width * bits / 32) * 4 bytes each (rows are padded to 4 bytes). The
// header sizes are the ones stb reads (OS/2 1.x: 12; Windows: 40, 56, 108, 124), so that stb
// takes the file for a BMP and not for some other format.
void check_bmp(const uint8_t* b, size_t n, const std::string& name) {
  constexpr size_t kFileHeader = 14;
  MD_CHECK(n >= kFileHeader + 12, "'", name, "': truncated BMP: ", n, " bytes, less than a header");
  const uint32_t offset = le32(b + 10), header = le32(b + 14);
  MD_CHECK(header == 12 || header == 40 || header == 56 || header == 108 || header == 124, "'",
           name, "': unsupported BMP header of ", header, " bytes");
  MD_CHECK(n >= kFileHeader + header, "'", name, "': truncated BMP: ", n,
           " bytes, less than its header");
  int64_t width = 0, height = 0;
  uint32_t bits = 0, compression = 0;
  if (header == 12) {
    width = le16(b + 18), height = le16(b + 20), bits = le16(b + 24);
  } else {
    width = int32_t(le32(b + 18)), height = int32_t(le32(b + 22)), bits = le16(b + 28);
    compression = le32(b + 30);
  }
  if (height < 0) height = -height;  // negative: rows stored top to bottom
  MD_CHECK(width > 0 && height > 0, "'", name, "': BMP of ", width, " x ", height, " pixels");
  MD_CHECK(compression != 1 && compression != 2, "'", name,
           "': run-length encoded BMP is not supported");
  MD_CHECK(bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32, "'",
           name, "': unsupported BMP of ", bits, " bits per pixel");
  const uint64_t row = (uint64_t(width) * bits + 31) / 32 * 4;
  uint64_t rows = 0;
  const bool fits = checked_mul(row, uint64_t(height), rows) && rows <= n && offset <= n - rows;
  MD_CHECK(fits, "'", name, "': truncated BMP: ", n, " bytes, but its header announces ", height,
           " rows of ", row, " bytes from byte ", offset);
}

}  // namespace

DecodedImage decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels,
                          int64_t max_pixels) {
  MD_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  const uint8_t* b = bytes.data();
  const size_t n = bytes.size();
  MD_CHECK(n <= size_t(INT_MAX), "'", name, "': ", n, " bytes is too large for one image file");
  MD_CHECK(!looks_like_jpeg(b, n), "'", name, "': JPEG is not decoded: Debian's stb_image 2.27 "
           "reads out of bounds on damaged JPEG data (see data/image_decode.h); convert it to PNG");
  if (looks_like_bmp(b, n))
    check_bmp(b, n, name);
  else if (looks_like_png(b, n))
    check_png(b, n, name);
  else
    throw Error("'" + name + "': not a PNG or BMP file");

  int w = 0, h = 0, in_channels = 0;
  MD_CHECK(stbi_info_from_memory(b, int(n), &w, &h, &in_channels), "'", name,
           "': cannot read the image header (",
           stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  MD_CHECK(w > 0 && h > 0 && int64_t(w) * h <= max_pixels, "'", name, "': ", w, " x ", h,
           " pixels, more than the ", max_pixels, " this loader decodes");
  unsigned char* hwc = stbi_load_from_memory(b, int(n), &w, &h, &in_channels, channels);
  MD_CHECK(hwc != nullptr, "'", name, "': cannot decode (",
           stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  DecodedImage img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(hwc, hwc + int64_t(w) * h * channels);
  stbi_image_free(hwc);
  return img;
}

}  // namespace mindiff
