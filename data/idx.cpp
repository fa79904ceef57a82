// IDX parsing and the (Fashion-)MNIST loaders; see idx.h for the format.
#include "data/idx.h"

#include <algorithm>
#include <cstring>

#include "data/gzip.h"
#include "tensor/error.h"

namespace mindiff {

namespace {

constexpr uint8_t kTypeUnsignedByte = 0x08;
constexpr int kMaxIdxDims = 4;

uint32_t read_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& name) {
  MD_CHECK(bytes.size() >= 4, "'", name, "': not an IDX file (only ", bytes.size(), " bytes)");
  MD_CHECK(bytes[0] == 0 && bytes[1] == 0, "'", name,
           "': not an IDX file (magic must start with two zero bytes)");
  MD_CHECK(bytes[2] == kTypeUnsignedByte, "'", name, "': unsupported IDX type code 0x", std::hex,
           int(bytes[2]), std::dec, " (only 0x08 = unsigned byte)");
  const int ndims = bytes[3];
  MD_CHECK(ndims >= 1 && ndims <= kMaxIdxDims, "'", name, "': bad IDX rank ", ndims);
  const size_t header = 4 + 4 * size_t(ndims);
  MD_CHECK(bytes.size() >= header, "'", name, "': truncated IDX header (", bytes.size(),
           " bytes, need ", header, ")");
  IdxArray a;
  uint64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint64_t extent = read_be32(&bytes[4 + 4 * d]);
    a.dims.push_back(int64_t(extent));
    // Checked before multiplying, so the running product cannot overflow.
    MD_CHECK(extent == 0 || count <= bytes.size() / extent, "'", name, "': IDX extents ",
             Shape(a.dims).str(), " need more bytes than the file has (", bytes.size(), ")");
    count *= extent;
  }
  MD_CHECK(bytes.size() == header + count, "'", name, "': IDX length mismatch: header says ",
           count, " elements (", header + count, " bytes) but the file has ", bytes.size(),
           " bytes", bytes.size() < header + count ? " (truncated)" : "");
  bytes.erase(bytes.begin(), bytes.begin() + std::ptrdiff_t(header));  // reuse the buffer
  a.data = std::move(bytes);
  return a;
}

IdxArray read_idx(const std::string& path, int expected_ndims) {
  IdxArray a = parse_idx(read_maybe_gzipped(path), path);
  MD_CHECK(int(a.dims.size()) == expected_ndims, "'", path, "': expected an IDX file of rank ",
           expected_ndims, " (", expected_ndims == 3 ? "images" : "labels", "), got rank ",
           a.dims.size());
  return a;
}

Dataset load_mnist_idx(const std::string& images_path, const std::string& labels_path) {
  IdxArray img = read_idx(images_path, 3);
  IdxArray lab = read_idx(labels_path, 1);
  const int64_t n = img.dims[0], h = img.dims[1], w = img.dims[2];
  MD_CHECK(lab.dims[0] == n, "label count ", lab.dims[0], " in '", labels_path,
           "' does not match image count ", n, " in '", images_path, "'");
  MD_CHECK(n > 0 && h > 0 && w > 0, "'", images_path, "': empty image set [", n, ", ", h, ", ",
           w, "]");
  Dataset ds;
  ds.name = images_path;
  ds.images = empty({n, 1, h, w});
  bytes_to_unit_range(img.data.data(), n * h * w, ds.images.data());
  ds.labels.assign(lab.data.begin(), lab.data.end());
  ds.num_classes = *std::max_element(ds.labels.begin(), ds.labels.end()) + 1;
  return ds;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> kNames = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                  "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};
  return kNames;
}

Dataset load_fashion_mnist(const std::string& split, const std::string& dir) {
  MD_CHECK(split == "train" || split == "test", "load_fashion_mnist: unknown split '", split,
           "' (use \"train\" or \"test\")");
  // The test split's files are named t10k-*, as in the original distribution.
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  Dataset ds = load_mnist_idx(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz");
  const auto& names = fashion_mnist_class_names();
  MD_CHECK(ds.num_classes <= int64_t(names.size()), "'", prefix,
           "-labels-idx1-ubyte.gz': label ", ds.num_classes - 1,
           " out of range for Fashion-MNIST's 10 classes");
  ds.name = "fashion-mnist/" + split;
  ds.num_classes = int64_t(names.size());
  ds.class_names = names;
  return ds;
}

}  // namespace mindiff
