// gzip files (data/gzip.h): the header's optional fields, DEFLATE (stb_image's decoder), and the
// CRC-32 and length trailer. Inputs without the gzip magic are given it, so every one is decoded.
#include "data/gzip.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes = fuzz::as_bytes(data, size);
  if (!is_gzip(bytes)) bytes.insert(bytes.begin(), {0x1f, 0x8b});
  fuzz::expect_clean([&] { gunzip(bytes, "fuzz"); });
  return 0;
}
