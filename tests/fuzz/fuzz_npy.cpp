// NumPy .npy files (data/image_io.h parse_npy), as `sample --score-file` reads them.
#include "data/image_io.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::expect_clean([&] { parse_npy(fuzz::as_bytes(data, size), "fuzz"); });
  return 0;
}
