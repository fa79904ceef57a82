// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), plain or gzipped.
//
// Layout: magic = 00 00 <type> <ndims>, then ndims big-endian uint32 extents, then the elements
// in row-major order. Only type 0x08 (unsigned byte) is used by these sets: image files have
// ndims = 3 ([N, rows, cols]), label files ndims = 1 ([N]). The file length must equal
// 4 + 4 * ndims + product(extents) exactly, so a truncated or padded file is an error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mindiff {

// Where Debian's dataset-fashion-mnist package (installed by `make deps`) puts the four files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// One decoded IDX file: extents and the raw unsigned bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Parses IDX bytes already in memory (taken by value: the buffer becomes IdxArray::data, so
// pass with std::move to avoid a copy); `name` (the path) appears in every error.
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& name);
// Reads (and gunzips if needed) and parses an IDX file, checking it has `expected_ndims` dims.
IdxArray read_idx(const std::string& path, int expected_ndims);

// An images file ([N, H, W] bytes) and a labels file ([N] bytes) as a Dataset: images
// [N, 1, H, W] in [-1, 1], labels as int64, num_classes = max label + 1. Errors name the file:
// bad magic, wrong type code or rank, length mismatch, and label count != image count.
Dataset load_mnist_idx(const std::string& images_path, const std::string& labels_path);

// Fashion-MNIST split "train" (60000 examples) or "test" (10000), 28x28 grayscale, 10 classes
// with their names (T-shirt/top, Trouser, ...). `dir` holds the four *-ubyte.gz files.
Dataset load_fashion_mnist(const std::string& split = "train",
                           const std::string& dir = kFashionMnistDir);

// The ten Fashion-MNIST class names, index = label.
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace mindiff
