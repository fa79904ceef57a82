// Decoding one image file (PNG or BMP) with stb_image, after checks that keep a damaged or
// crafted file from reaching the parts of Debian's stb_image 2.27 that trust it:
//   - the format is recognised from the first bytes, and only PNG and BMP are decoded (stb would
//     otherwise try GIF, PSD, TGA, ... on anything);
//   - JPEG is refused. Its Huffman tables can be checked (a table of more than 256 codes made
//     stbi__build_huffman write past its buffer), but fuzzing with the tables checked still found
//     stb's entropy decoder reading out of bounds (stbi__jpeg_huff_decode indexing a 257-entry
//     table at -134217022) and shifting by more than 32 bits (stbi__grow_buffer_unsafe), driven
//     by the compressed data itself: no check short of decoding rules that out. Upstream fixed
//     these after 2.27; until Debian ships that, JPEG files are named and skipped;
//   - PNG: every chunk lies within the file up to IEND, and the first IDAT is not empty (stb
//     copies it into a buffer it has not allocated yet);
//   - BMP: the file must hold all the rows its header announces (stb reads missing bytes as
//     zeros: a truncated BMP would decode without a word);
//   - the width x height the header declares must be at most kMaxImagePixels, checked before
//     anything is allocated: a 71-byte file can announce 16163 x 16722 pixels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mindiff {

// 2^25 pixels (33.5 million, e.g. 8192 x 4096): above the 24 megapixels of a consumer camera, and
// small enough that the decoded bytes and the float planes resized from them (400 MB for RGB)
// stay within an ordinary machine's memory.
constexpr int64_t kMaxImagePixels = int64_t{1} << 25;

struct DecodedImage {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height x width x channels bytes, interleaved (HWC)
};

// Decodes an image file held in memory to `channels` (1: grayscale, 3: RGB; stb converts, grey
// to RGB by replication and RGB to grey by its luma weights). Throws mindiff::Error naming
// `name` (the path) and the reason when the bytes are not a PNG or BMP, fail a check above, or
// do not decode.
// `max_pixels` is the bound on width x height (the fuzz harness sets a smaller one).
DecodedImage decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels,
                          int64_t max_pixels = kMaxImagePixels);

}  // namespace mindiff
