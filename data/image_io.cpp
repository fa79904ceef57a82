// PNG grids and .npy files; see image_io.h for the layouts.
#include "data/image_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <stb/stb_image_write.h>

#include "data/file_io.h"
#include "tensor/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "image_io.cpp writes float32 .npy data with memcpy, which assumes a little-endian host");

namespace mindiff {

namespace {

uint8_t to_byte(float x) {
  if (!(x == x)) return 0;  // NaN
  const float v = (std::min(1.0f, std::max(-1.0f, x)) + 1.0f) * 127.5f;
  return uint8_t(std::lround(v));
}

// stb_image_write calls this with successive pieces of the encoded PNG.
void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicLen = 6;
constexpr size_t kNpyAlign = 64;

}  // namespace

ImageBytes image_grid(const Tensor& images, int64_t ncols, int64_t pad) {
  MD_CHECK(images.defined() && images.ndim() == 4, "image grid: expected images [N, C, H, W], got ",
           images.defined() ? images.shape().str() : std::string("an undefined tensor"));
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  MD_CHECK(c == 1 || c == 3, "image grid: images ", images.shape().str(),
           " must have 1 or 3 channels");
  MD_CHECK(n > 0 && h > 0 && w > 0, "image grid: no pixels in images ", images.shape().str());
  MD_CHECK(ncols > 0 && pad >= 0, "image grid: need ncols > 0 and pad >= 0, got ", ncols, " and ",
           pad);
  const std::vector<float> v = images.to_vector();  // logical NCHW order, whatever the strides
  ImageBytes g;
  const int64_t cols = std::min(ncols, n), rows = (n + cols - 1) / cols;
  g.width = cols * (w + pad) + pad;
  g.height = rows * (h + pad) + pad;
  g.channels = c;
  g.pixels.assign(size_t(g.width * g.height * c), 0);  // black padding
  for (int64_t i = 0; i < n; ++i) {
    // Tile i sits at grid cell (i / cols, i % cols); its top-left pixel is at
    // (pad + row (H + pad), pad + col (W + pad)).
    const int64_t top = pad + (i / cols) * (h + pad), left = pad + (i % cols) * (w + pad);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          g.pixels[size_t(((top + y) * g.width + left + x) * c + ch)] =
              to_byte(v[size_t(((i * c + ch) * h + y) * w + x)]);
  }
  return g;
}

void write_image_grid(const std::string& path, const Tensor& images, int64_t ncols, int64_t pad) {
  const ImageBytes g = image_grid(images, ncols, pad);
  MD_CHECK(g.width < (1 << 30) / g.channels && g.height < (1 << 30), "write_image_grid: grid ",
           g.width, " x ", g.height, " is too large for one PNG ('", path, "')");
  std::vector<uint8_t> png;
  const int ok = stbi_write_png_to_func(append_bytes, &png, int(g.width), int(g.height),
                                        int(g.channels), g.pixels.data(),
                                        int(g.width * g.channels));
  MD_CHECK(ok != 0 && !png.empty(), "write_image_grid: PNG encoding failed for '", path, "'");
  write_file_atomic(path, png);
}

void write_npy(const std::string& path, const Tensor& t) {
  MD_CHECK(t.defined(), "write_npy: undefined tensor for '", path, "'");
  std::string shape = "(";
  for (int i = 0; i < t.ndim(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.ndim() > 0) shape.resize(shape.size() - 2);
  if (t.ndim() == 1) shape += ",";  // a one-element Python tuple needs the trailing comma
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const size_t prefix = kNpyMagicLen + 4;
  header.append((kNpyAlign - (prefix + header.size() + 1) % kNpyAlign) % kNpyAlign, ' ');
  header += '\n';
  const std::vector<float> v = t.to_vector();
  std::vector<uint8_t> out(kNpyMagic, kNpyMagic + kNpyMagicLen);
  out.push_back(1);  // major version
  out.push_back(0);  // minor version
  out.push_back(uint8_t(header.size()));
  out.push_back(uint8_t(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const size_t data_at = out.size();
  out.resize(data_at + v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(out.data() + data_at, v.data(), v.size() * sizeof(float));
  write_file_atomic(path, out);
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

Tensor parse_npy(const std::vector<uint8_t>& b, const std::string& path) {
  MD_CHECK(b.size() >= kNpyMagicLen + 4 && std::memcmp(b.data(), kNpyMagic, kNpyMagicLen) == 0,
           "read_npy: '", path, "' is not a .npy file (bad magic)");
  const int major = b[6];
  MD_CHECK(major >= 1 && major <= 3, "read_npy: '", path, "': unsupported .npy version ", major,
           ".", int(b[7]));
  // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
  size_t header_len = b[8] | size_t(b[9]) << 8, header_at = 10;
  if (major >= 2) {
    MD_CHECK(b.size() >= 12, "read_npy: '", path, "': truncated header");
    header_len |= size_t(b[10]) << 16 | size_t(b[11]) << 24;
    header_at = 12;
  }
  MD_CHECK(header_at + header_len <= b.size(), "read_npy: '", path, "': truncated header");
  const std::string h(b.begin() + header_at, b.begin() + header_at + header_len);

  auto value_after = [&](const std::string& key) {
    const size_t k = h.find("'" + key + "'");
    MD_CHECK(k != std::string::npos, "read_npy: '", path, "': header lacks '", key, "': ", h);
    size_t p = h.find(':', k);
    MD_CHECK(p != std::string::npos, "read_npy: '", path, "': malformed header: ", h);
    ++p;
    while (p < h.size() && h[p] == ' ') ++p;
    return p;
  };
  size_t p = value_after("descr");
  const size_t q = h.find_first_of("'\"", p + 1);
  const std::string descr = q == std::string::npos ? "" : h.substr(p + 1, q - p - 1);
  MD_CHECK(descr == "<f4", "read_npy: '", path, "': dtype '", descr,
           "' is not supported (only little-endian float32, '<f4')");
  p = value_after("fortran_order");
  MD_CHECK(h.compare(p, 5, "False") == 0, "read_npy: '", path,
           "': Fortran-ordered arrays are not supported");
  p = value_after("shape");
  MD_CHECK(p < h.size() && h[p] == '(', "read_npy: '", path, "': malformed shape in header: ", h);
  const size_t close = h.find(')', p);
  MD_CHECK(close != std::string::npos, "read_npy: '", path, "': malformed shape in header: ", h);
  std::vector<int64_t> dims;
  uint64_t count = 1;  // running product of the extents, kept <= the file size (no overflow)
  for (size_t i = p + 1; i < close;) {
    if (h[i] == ' ' || h[i] == ',') {
      ++i;
      continue;
    }
    MD_CHECK(h[i] >= '0' && h[i] <= '9', "read_npy: '", path, "': malformed shape in header: ", h);
    uint64_t d = 0;
    while (i < close && h[i] >= '0' && h[i] <= '9') {
      d = d * 10 + uint64_t(h[i++] - '0');
      MD_CHECK(d <= b.size(), "read_npy: '", path, "': shape ", h.substr(p, close - p + 1),
               " needs more data than the file's ", b.size(), " bytes");
    }
    MD_CHECK(d == 0 || count <= b.size() / d, "read_npy: '", path, "': shape ",
             h.substr(p, close - p + 1), " needs more data than the file's ", b.size(), " bytes");
    count *= d;
    dims.push_back(int64_t(d));
  }
  MD_CHECK(dims.size() <= size_t(kMaxDims), "read_npy: '", path, "': rank ", dims.size(),
           " exceeds the maximum rank ", kMaxDims);
  const Shape shape(dims);
  const size_t data_at = header_at + header_len;
  const size_t want = size_t(shape.numel()) * sizeof(float);
  MD_CHECK(b.size() - data_at == want, "read_npy: '", path, "': shape ", shape.str(), " needs ",
           want, " data bytes but the file has ", b.size() - data_at);
  Tensor t = empty(shape);
  if (want > 0) std::memcpy(t.data(), b.data() + data_at, want);
  return t;
}

}  // namespace mindiff
