// CIFAR-10 binary batches (data/cifar10.h): the record count from the length, then each
// record's label and pixels, as load_cifar10 reads a file.
#include "data/cifar10.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes = fuzz::as_bytes(data, size);
  fuzz::expect_clean([&] {
    const int64_t n = cifar10_record_count(bytes, "fuzz");
    std::vector<float> pixels(size_t(n * (kCifarRecord - 1)));
    std::vector<int64_t> labels;
    parse_cifar10_records(bytes, "fuzz", labels, pixels.data());
  });
  return 0;
}
