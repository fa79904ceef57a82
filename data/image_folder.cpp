// Image folder loading; see image_folder.h.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <stb/stb_image.h>

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
    int w = 0, h = 0, in_channels = 0;
    // stb converts to the requested channel count (grey -> RGB by replication, RGB -> grey by
    // its luma weights) and returns interleaved HWC bytes.
    unsigned char* hwc = stbi_load(f.c_str(), &w, &h, &in_channels, channels);
    if (hwc == nullptr) {
      std::cerr << "mindiff: skipping '" << f << "': cannot decode ("
                << (stbi_failure_reason() ? stbi_failure_reason() : "unknown reason") << ")\n";
      continue;
    }
    // HWC bytes -> CHW floats for the resizer.
    std::vector<float> chw(size_t(channels) * w * h);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < int64_t(w) * h; ++i) chw[c * w * h + i] = hwc[i * channels + c];
    stbi_image_free(hwc);
    std::vector<float> img = resize_short_side_center_crop(chw.data(), channels, h, w, size);
    pixels.insert(pixels.end(), img.begin(), img.end());
    ++n;
  }
  MD_CHECK(n > 0, "load_image_folder: no decodable PNG/JPEG/BMP image in folder '", dir, "' (",
           files.size(), " candidate files)");

  Dataset ds;
  ds.name = dir;
  ds.images = empty({n, channels, size, size});
  float* out = ds.images.data();
  for (int64_t i = 0; i < n * per_image; ++i) out[i] = pixels[i] / 127.5f - 1.0f;
  return ds;
}

}  // namespace mindiff
