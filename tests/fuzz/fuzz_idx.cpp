// IDX files (data/idx.h), the format of MNIST and Fashion-MNIST, after any gunzip.
#include "data/idx.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::expect_clean([&] { parse_idx(fuzz::as_bytes(data, size), "fuzz"); });
  return 0;
}
