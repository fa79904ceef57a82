// The JPEG structure check; see jpeg_check.h. Marker codes are those of ITU-T T.81, table B.1.
#include "data/jpeg_check.h"

#include "tensor/error.h"

namespace mindiff {

namespace {

constexpr uint8_t kMarker = 0xFF;
constexpr uint8_t kSOI = 0xD8, kEOI = 0xD9, kDHT = 0xC4, kTEM = 0x01;
constexpr uint8_t kRST0 = 0xD0, kRST7 = 0xD7;
constexpr size_t kMaxHuffmanCodes = 256;  // stb's tables hold 256 values (the JPEG limit too)

// The tables of one DHT segment's payload: each is a class/id byte, 16 code counts and as many
// values as the counts add up to (T.81 B.2.4.2), and the tables fill the payload exactly.
void check_dht(const uint8_t* p, size_t length, size_t at, const std::string& name) {
  size_t i = 0;
  while (i < length) {
    MD_CHECK(length - i >= 17, "'", name, "': corrupt JPEG: the Huffman table at byte ", at + i,
             " is cut off by the end of its segment");
    const int table_class = p[i] >> 4, table_id = p[i] & 15;
    MD_CHECK(table_class <= 1 && table_id <= 3, "'", name, "': corrupt JPEG: Huffman table ",
             "class ", table_class, " id ", table_id, " at byte ", at + i, " (class 0-1, id 0-3)");
    size_t codes = 0;
    for (int k = 1; k <= 16; ++k) codes += p[i + k];
    MD_CHECK(codes <= kMaxHuffmanCodes, "'", name, "': corrupt JPEG: the Huffman table at byte ",
             at + i, " declares ", codes, " codes (at most ", kMaxHuffmanCodes, ")");
    MD_CHECK(length - i - 17 >= codes, "'", name, "': corrupt JPEG: the Huffman table at byte ",
             at + i, " is cut off by the end of its segment");
    i += 17 + codes;
  }
}

}  // namespace

bool looks_like_jpeg(const uint8_t* b, size_t n) {
  return n >= 3 && b[0] == kMarker && b[1] == kSOI && b[2] == kMarker;
}

void check_jpeg(const uint8_t* b, size_t n, const std::string& name) {
  MD_CHECK(looks_like_jpeg(b, n), "'", name, "': not a JPEG file (no start-of-image marker)");
  size_t i = 2;
  for (;;) {
    // The next marker: skip what is not 0xFF (entropy-coded data, or stray bytes stb skips
    // too), then 0xFF fill bytes; 0xFF 0x00 (a stuffed data byte), restart markers and TEM
    // carry no segment.
    while (i < n && b[i] != kMarker) ++i;
    while (i < n && b[i] == kMarker) ++i;
    MD_CHECK(i < n, "'", name, "': truncated JPEG: the file ends before its end-of-image marker");
    const uint8_t code = b[i++];
    if (code == kEOI) return;
    if (code == 0 || code == kTEM || (code >= kRST0 && code <= kRST7)) continue;
    MD_CHECK(n - i >= 2, "'", name, "': truncated JPEG: the file ends inside a segment header");
    const size_t length = size_t(b[i]) << 8 | b[i + 1];  // includes its own two bytes
    MD_CHECK(length >= 2, "'", name, "': corrupt JPEG: segment 0xFF", std::hex, int(code),
             std::dec, " at byte ", i - 2, " has length ", length);
    MD_CHECK(length <= n - i, "'", name, "': truncated JPEG: segment 0xFF", std::hex, int(code),
             std::dec, " at byte ", i - 2, " runs past the end of the file");
    if (code == kDHT) check_dht(b + i + 2, length - 2, i + 2, name);
    i += length;
  }
}

}  // namespace mindiff
