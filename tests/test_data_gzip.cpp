// gzip reading (data/gzip.*) and atomic file writing (data/file_io.*): CRC-32 against the
// standard check value, round trips through stored and compressed DEFLATE, the real Fashion-MNIST
// archive's trailer, and errors for missing, truncated and corrupted files naming the path.
#include <filesystem>
#include <string>

#include <stb/stb_image_write.h>

#include "data/crc32.h"
#include "data/file_io.h"
#include "data/gzip.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

// libstb exports its zlib compressor but stb_image_write.h declares it only inside the
// implementation section, so it is declared here for the test (C linkage, as in libstb).
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len,
                                              int quality);

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

using test::TempDir;

std::vector<uint8_t> pattern_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * 7 + i / 300) & 0xFF);
  return v;
}

TEST(DataGzip, Crc32CheckValue) {
  // The standard CRC-32 check value: crc32("123456789") = 0xCBF43926 (the "check" column of the
  // CRC catalogue for CRC-32/ISO-HDLC), and the CRC of nothing is 0.
  const std::string s = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
  EXPECT_EQ(crc32(nullptr, 0), 0u);
  // Continuing a CRC over a second piece equals the CRC of the whole.
  auto* p = reinterpret_cast<const uint8_t*>(s.data());
  EXPECT_EQ(crc32_final(crc32_update(crc32_update(kCrc32Init, p, 4), p + 4, 5)), 0xCBF43926u);
}

TEST(DataGzip, StoredRoundTrip) {
  // Sizes around the 65535-byte stored-block limit, and the empty file.
  for (size_t n : {size_t(0), size_t(1), size_t(65535), size_t(65536), size_t(200000)}) {
    std::vector<uint8_t> data = pattern_bytes(n);
    std::vector<uint8_t> gz = gzip_store(data);
    EXPECT_TRUE(is_gzip(gz));
    EXPECT_EQ(gunzip(gz, "mem"), data) << "n = " << n;
  }
}

TEST(DataGzip, CompressedRoundTripWithHeaderFields) {
  // Real (Huffman-coded) DEFLATE from stb's compressor, with FNAME, FCOMMENT, FEXTRA and FHCRC
  // header fields that the reader must skip (and check, for FHCRC).
  std::vector<uint8_t> data = pattern_bytes(100000);
  int zlen = 0;
  unsigned char* z = stbi_zlib_compress(data.data(), int(data.size()), &zlen, 8);
  ASSERT_NE(z, nullptr);
  // stbi_zlib_compress writes a zlib stream: 2-byte header, raw DEFLATE, 4-byte Adler-32.
  std::vector<uint8_t> gz = {0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3};
  for (int b : {3, 0, 97, 98, 99}) gz.push_back(uint8_t(b));  // FEXTRA: XLEN = 3, then "abc"
  for (char c : std::string("name.bin")) gz.push_back(uint8_t(c));
  gz.push_back(0);
  for (char c : std::string("a comment")) gz.push_back(uint8_t(c));
  gz.push_back(0);
  uint32_t hcrc = crc32(gz.data(), gz.size()) & 0xFFFF;
  gz.push_back(uint8_t(hcrc));
  gz.push_back(uint8_t(hcrc >> 8));
  gz.insert(gz.end(), z + 2, z + zlen - 4);
  free(z);
  uint32_t crc = crc32(data.data(), data.size()), isize = uint32_t(data.size());
  for (int k = 0; k < 4; ++k) gz.push_back(uint8_t(crc >> (8 * k)));
  for (int k = 0; k < 4; ++k) gz.push_back(uint8_t(isize >> (8 * k)));
  EXPECT_LT(gz.size(), data.size() / 4);  // it really is compressed
  EXPECT_EQ(gunzip(gz, "mem"), data);
}

TEST(DataGzip, ReadMaybeGzippedAndPlainFiles) {
  TempDir dir;
  std::vector<uint8_t> data = pattern_bytes(5000);
  write_file_atomic(dir.file("a.gz"), gzip_store(data));
  write_file_atomic(dir.file("a.raw"), data);
  EXPECT_EQ(read_maybe_gzipped(dir.file("a.gz")), data);
  EXPECT_EQ(read_maybe_gzipped(dir.file("a.raw")), data);  // no magic: returned as is
  EXPECT_FALSE(fs::exists(atomic_temp_path(dir.file("a.gz"))));           // the temporary was renamed away
}

TEST(DataGzip, Errors) {
  TempDir dir;
  const std::string missing = dir.file("missing.gz");
  expect_error([&] { read_maybe_gzipped(missing); }, {missing, "no such file"});
  expect_error([&] { read_maybe_gzipped(dir.path); }, {"not a regular file"});

  std::vector<uint8_t> gz = gzip_store(pattern_bytes(3000));
  // Truncated: cut in the middle of the data, and cut to less than a header.
  const std::string cut = dir.file("cut.gz");
  write_file_atomic(cut, std::vector<uint8_t>(gz.begin(), gz.begin() + 1500));
  expect_error([&] { read_maybe_gzipped(cut); }, {cut, "truncated"});
  write_file_atomic(cut, std::vector<uint8_t>(gz.begin(), gz.begin() + 6));
  expect_error([&] { read_maybe_gzipped(cut); }, {cut, "truncated"});
  // One flipped data byte: DEFLATE stored data decodes, but the CRC-32 no longer matches.
  const std::string bad = dir.file("bad.gz");
  std::vector<uint8_t> flipped = gz;
  flipped[100] ^= 0x40;
  write_file_atomic(bad, flipped);
  expect_error([&] { read_maybe_gzipped(bad); }, {bad, "CRC-32 mismatch"});
  // A wrong compression method.
  std::vector<uint8_t> method = gz;
  method[2] = 7;
  expect_error([&] { gunzip(method, "m.gz"); }, {"m.gz", "compression method 7"});
}

TEST(DataGzip, AtomicWriteErrorsNameThePath) {
  const std::string path = "/nonexistent_mindiff_folder/x.bin";
  expect_error([&] { write_file_atomic(path, std::vector<uint8_t>{1, 2}); }, {path, "not writable"});
}

TEST(DataGzip, FashionMnistArchiveTrailer) {
  // The Debian archive's smallest file: 10000 labels + 8-byte IDX header.
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " absent (make deps installs it)";
  std::vector<uint8_t> bytes = read_maybe_gzipped(path);
  EXPECT_EQ(bytes.size(), 10008u);
}

}  // namespace
}  // namespace mindiff
