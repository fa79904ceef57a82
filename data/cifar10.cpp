// CIFAR-10 binary records; see cifar10.h for the format.
#include "data/cifar10.h"

#include <filesystem>

#include "data/gzip.h"
#include "tensor/error.h"

namespace mindiff {

namespace fs = std::filesystem;

int64_t cifar10_record_count(const std::vector<uint8_t>& bytes, const std::string& name) {
  MD_CHECK(!bytes.empty() && bytes.size() % kCifarRecord == 0, "'", name, "': length ",
           bytes.size(), " is not a positive multiple of the CIFAR-10 record size ", kCifarRecord,
           " (1 label byte + 3x32x32 pixels); truncated or not a CIFAR-10 binary file?");
  return int64_t(bytes.size()) / kCifarRecord;
}

void parse_cifar10_records(const std::vector<uint8_t>& bytes, const std::string& name,
                           std::vector<int64_t>& labels, float* pixels) {
  const int64_t kPixels = kCifarRecord - 1;
  const int64_t n = cifar10_record_count(bytes, name);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * kCifarRecord;
    MD_CHECK(rec[0] < 10, "'", name, "': record ", r, " has label ", int(rec[0]),
             " (CIFAR-10 labels are 0..9)");
    labels.push_back(rec[0]);
    bytes_to_unit_range(rec + 1, kPixels, pixels + r * kPixels);
  }
}

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> kNames = {"airplane", "automobile", "bird",  "cat",
                                                  "deer",     "dog",        "frog",  "horse",
                                                  "ship",     "truck"};
  return kNames;
}

Dataset load_cifar10(const std::string& dir, const std::string& split) {
  MD_CHECK(split == "train" || split == "test", "load_cifar10: unknown split '", split,
           "' (use \"train\" or \"test\")");
  std::vector<std::string> files;
  if (split == "train")
    for (int k = 1; k <= 5; ++k) files.push_back("data_batch_" + std::to_string(k) + ".bin");
  else
    files.push_back("test_batch.bin");

  MD_CHECK(fs::is_directory(dir), "load_cifar10: folder '", dir, "' does not exist");
  std::string root = dir;
  const std::string nested = (fs::path(dir) / "cifar-10-batches-bin").string();
  if (!fs::exists(fs::path(dir) / files[0]) && fs::exists(fs::path(nested) / files[0])) root = nested;

  // All files are read (150 MB of bytes for the train split) before the float tensor is
  // allocated, so the pixels are converted once, straight into their final place.
  std::vector<std::vector<uint8_t>> contents;
  std::vector<std::string> paths;
  int64_t n = 0;
  for (const std::string& f : files) {
    paths.push_back((fs::path(root) / f).string());
    MD_CHECK(fs::exists(paths.back()), "load_cifar10: missing file '", paths.back(), "' (the ",
             split, " split needs ", files.size() == 1 ? "test_batch.bin" : "data_batch_1..5.bin",
             ")");
    contents.push_back(read_maybe_gzipped(paths.back()));
    n += cifar10_record_count(contents.back(), paths.back());
  }
  Dataset ds;
  ds.name = "cifar10/" + split;
  ds.images = empty({n, 3, kCifarSide, kCifarSide});
  std::vector<int64_t> labels;
  labels.reserve(size_t(n));
  for (size_t k = 0; k < contents.size(); ++k) {
    float* out = ds.images.data() + int64_t(labels.size()) * (kCifarRecord - 1);
    parse_cifar10_records(contents[k], paths[k], labels, out);
    contents[k] = std::vector<uint8_t>();  // free as we go
  }
  ds.labels = std::move(labels);
  ds.num_classes = 10;
  ds.class_names = cifar10_class_names();
  return ds;
}

}  // namespace mindiff
