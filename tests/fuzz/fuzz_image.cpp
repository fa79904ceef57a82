// Image files as the image-folder loader reads them (data/image_decode.h, data/resize.h): the
// checks, stb_image's PNG and BMP decoders (compiled here with the sanitizers, from the same
// Debian header as libstb: tests/fuzz/stb_instrumented.cpp), then the resize and centre crop;
// JPEG inputs must be refused. The input's last byte picks grayscale or RGB, so both
// conversions are reached.
#include "data/image_decode.h"
#include "data/resize.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

namespace {
constexpr int64_t kSize = 8;  // the crop's side: small, the resize's cost is not what is tested
// A few hundred bytes of PNG can decode to the loader's 33 million pixels, which takes seconds
// under the sanitizers and coverage counters: the cost of the image, not a defect, and past the
// 10 s that flags a hang. The same check runs here with a bound of 2^20 pixels.
constexpr int64_t kMaxPixels = int64_t{1} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int channels = size > 0 && (data[size - 1] & 1) ? 3 : 1;
  fuzz::expect_clean([&] {
    const DecodedImage img =
        decode_image(fuzz::as_bytes(data, size), "fuzz", channels, kMaxPixels);
    std::vector<float> chw(img.pixels.size());
    const int64_t plane = img.width * img.height;
    for (int64_t c = 0; c < img.channels; ++c)
      for (int64_t i = 0; i < plane; ++i) chw[c * plane + i] = img.pixels[i * img.channels + c];
    resize_short_side_center_crop(chw.data(), img.channels, img.height, img.width, kSize);
  });
  return 0;
}
