// Image folder loading; see image_folder.h.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "data/file_io.h"
#include "data/image_decode.h"
#include "data/resize.h"
#include "tensor/error.h"

namespace mindiff {

namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

}  // namespace

Dataset load_image_folder(const std::string& dir, int64_t size, int channels) {
  MD_CHECK(channels == 1 || channels == 3, "load_image_folder: channels must be 1 or 3, got ",
           channels);
  MD_CHECK(size > 0, "load_image_folder: size must be positive, got ", size);
  MD_CHECK(fs::is_directory(dir), "load_image_folder: folder '", dir, "' does not exist");
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && has_image_extension(e.path())) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  const int64_t per_image = channels * size * size;
  std::vector<float> pixels;  // N images of [channels, size, size], 0..255
  int64_t n = 0;
  for (const std::string& f : files) {
    DecodedImage img;
    try {
      img = decode_image(read_file(f), f, channels);
    } catch (const Error& e) {
      std::cerr << "mindiff: skipping " << e.what() << "\n";
      continue;
    }
    // HWC bytes -> CHW floats for the resizer.
    const int64_t w = img.width, h = img.height;
    std::vector<float> chw(size_t(channels * w * h));
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < w * h; ++i) chw[c * w * h + i] = img.pixels[i * channels + c];
    img = DecodedImage();
    std::vector<float> square = resize_short_side_center_crop(chw.data(), channels, h, w, size);
    pixels.insert(pixels.end(), square.begin(), square.end());
    ++n;
  }
  MD_CHECK(n > 0, "load_image_folder: no decodable PNG or BMP image in folder '", dir, "' (",
           files.size(), " candidate files)");

  Dataset ds;
  ds.name = dir;
  ds.images = empty({n, channels, size, size});
  float* out = ds.images.data();
  for (int64_t i = 0; i < n * per_image; ++i) out[i] = pixels[i] / 127.5f - 1.0f;
  return ds;
}

}  // namespace mindiff
