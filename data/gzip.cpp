// gzip reading and stored-block writing; see gzip.h for the format.
#include "data/gzip.h"

#include <algorithm>
#include <array>
#include <climits>

#include <stb/stb_image.h>  // stbi_zlib_decode_noheader_buffer (implementation is in libstb)

#include "data/crc32.h"
#include "data/file_io.h"
#include "tensor/error.h"

namespace mindiff {

namespace {

uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put_le32(std::vector<uint8_t>& out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(v >> (8 * k)));
}

// Header flag bits (RFC 1952 section 2.3.1).
constexpr uint8_t kFHCRC = 2, kFEXTRA = 4, kFNAME = 8, kFCOMMENT = 16, kFReserved = 0xE0;
constexpr size_t kTrailer = 8;  // CRC-32 + ISIZE
// DEFLATE cannot expand data by more than about 1032:1 (a 258-byte match costs at least 2 bits),
// so a larger ISIZE means the trailer is not really a trailer: the file is truncated or corrupt.
constexpr uint64_t kMaxDeflateRatio = 1032;

}  // namespace

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& name) {
  const size_t n = gz.size();
  MD_CHECK(is_gzip(gz), "'", name, "': not a gzip file (missing magic bytes 1f 8b)");
  MD_CHECK(n >= 10 + kTrailer, "'", name, "': truncated gzip file (", n, " bytes)");
  MD_CHECK(gz[2] == 8, "'", name, "': unsupported gzip compression method ", int(gz[2]),
           " (only 8 = DEFLATE)");
  const uint8_t flg = gz[3];
  MD_CHECK((flg & kFReserved) == 0, "'", name, "': corrupt gzip header (reserved flag bits set)");
  size_t pos = 10;
  const size_t body_end = n - kTrailer;  // the optional fields must end before the trailer
  if (flg & kFEXTRA) {
    MD_CHECK(pos + 2 <= body_end, "'", name, "': truncated gzip header (FEXTRA)");
    size_t xlen = gz[pos] | size_t(gz[pos + 1]) << 8;
    pos += 2 + xlen;
    MD_CHECK(pos <= body_end, "'", name, "': truncated gzip header (FEXTRA)");
  }
  for (uint8_t field : {kFNAME, kFCOMMENT}) {
    if (!(flg & field)) continue;
    while (pos < body_end && gz[pos] != 0) ++pos;
    MD_CHECK(pos < body_end, "'", name, "': truncated gzip header (",
             field == kFNAME ? "FNAME" : "FCOMMENT", ")");
    ++pos;  // the terminating zero
  }
  if (flg & kFHCRC) {
    MD_CHECK(pos + 2 <= body_end, "'", name, "': truncated gzip header (FHCRC)");
    uint32_t want = gz[pos] | uint32_t(gz[pos + 1]) << 8;
    MD_CHECK((crc32(gz.data(), pos) & 0xFFFF) == want, "'", name, "': gzip header CRC mismatch");
    pos += 2;
  }

  const uint32_t want_crc = read_le32(&gz[body_end]);
  const uint32_t isize = read_le32(&gz[body_end + 4]);
  const size_t body = body_end - pos;
  MD_CHECK(isize <= (body + 1) * kMaxDeflateRatio && isize < uint32_t(INT_MAX),
           "'", name, "': truncated or corrupt gzip file (trailer claims ", isize,
           " bytes from ", body, " compressed bytes)");
  // Decode into a buffer of exactly ISIZE bytes: stb fails if the stream would write more.
  // The input handed to stb includes the 8 trailer bytes: the decoder stops at the final block
  // by itself, and stb_image 2.27 wrongly reports "bad huffman code" when the last codes sit in
  // the final two bytes of its input, which is exactly where they are without the trailer.
  std::vector<uint8_t> out(isize > 0 ? isize : 1);
  int got = stbi_zlib_decode_noheader_buffer(reinterpret_cast<char*>(out.data()), int(out.size()),
                                             reinterpret_cast<const char*>(gz.data() + pos),
                                             int(n - pos));
  MD_CHECK(got >= 0, "'", name, "': corrupt or truncated gzip data (DEFLATE decoding failed: ",
           stbi_failure_reason() ? stbi_failure_reason() : "unknown", ")");
  MD_CHECK(uint32_t(got) == isize, "'", name, "': corrupt or truncated gzip data (decoded ", got,
           " bytes, trailer says ", isize, ")");
  out.resize(isize);
  const uint32_t crc = crc32(out.data(), out.size());
  MD_CHECK(crc == want_crc, "'", name, "': corrupt gzip data (CRC-32 mismatch)");
  return out;
}

std::vector<uint8_t> read_maybe_gzipped(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  if (!is_gzip(bytes)) return bytes;
  return gunzip(bytes, path);
}

std::vector<uint8_t> gzip_store(const std::vector<uint8_t>& data) {
  // Header: magic, CM = 8, no flags, MTIME = 0, XFL = 0, OS = 255 (unknown).
  std::vector<uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  // Stored blocks (RFC 1951 section 3.2.4): a header byte holding BFINAL (bit 0) and BTYPE = 00,
  // padded to the byte boundary, then LEN and NLEN = ~LEN (16-bit little-endian), then the bytes.
  const size_t kMaxBlock = 65535;
  size_t pos = 0;
  do {
    size_t len = std::min(kMaxBlock, data.size() - pos);
    bool final = pos + len == data.size();
    out.push_back(final ? 1 : 0);
    out.push_back(uint8_t(len));
    out.push_back(uint8_t(len >> 8));
    out.push_back(uint8_t(~len));
    out.push_back(uint8_t(~len >> 8));
    out.insert(out.end(), data.begin() + pos, data.begin() + pos + len);
    pos += len;
  } while (pos < data.size());
  put_le32(out, crc32(data.data(), data.size()));
  put_le32(out, uint32_t(data.size()));
  return out;
}

}  // namespace mindiff
