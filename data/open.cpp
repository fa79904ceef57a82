#include "data/open.h"

#include <sys/stat.h>

#include <algorithm>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/toy2d.h"
#include "tensor/error.h"

namespace mindiff {

namespace {

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// DIR/NAME, or DIR/NAME.gz when only the compressed file exists.
std::string idx_path(const std::string& dir, const std::string& name) {
  std::string plain = dir + "/" + name;
  return !is_file(plain) && is_file(plain + ".gz") ? plain + ".gz" : plain;
}

std::string after_prefix(const std::string& spec, const std::string& prefix) {
  std::string rest = spec.substr(prefix.size());
  MD_CHECK(!rest.empty(), "--data ", spec, ": give a folder after '", prefix, "'");
  return rest;
}

}  // namespace

Dataset open_dataset(const std::string& spec, const OpenOptions& o) {
  MD_CHECK(o.split == "train" || o.split == "test", "open_dataset: split '", o.split,
           "' is neither train nor test");
  if (spec == "fashion-mnist") return load_fashion_mnist(o.split);
  if (spec.rfind("mnist:", 0) == 0) {
    std::string dir = after_prefix(spec, "mnist:");
    MD_CHECK(is_directory(dir), "--data ", spec, ": '", dir, "' is not a folder");
    std::string stem = o.split == "train" ? "train" : "t10k";
    return load_mnist_idx(idx_path(dir, stem + "-images-idx3-ubyte"),
                          idx_path(dir, stem + "-labels-idx1-ubyte"));
  }
  if (spec.rfind("cifar10:", 0) == 0) return load_cifar10(after_prefix(spec, "cifar10:"), o.split);
  if (spec.rfind("folder:", 0) == 0)
    return load_image_folder(after_prefix(spec, "folder:"), o.image_size, o.channels);
  const auto& toys = toy2d_names();
  if (std::find(toys.begin(), toys.end(), spec) != toys.end())
    return toy2d_dataset(spec, o.toy_points, o.toy_seed);
  if (is_directory(spec)) return load_image_folder(spec, o.image_size, o.channels);
  std::string known;
  for (const std::string& t : toys) known += " " + t;
  throw Error("--data " + spec + ": not a known dataset or an existing folder (expected "
              "fashion-mnist, mnist:DIR, cifar10:DIR, folder:DIR, a folder, or a toy set:" + known + ")");
}

}  // namespace mindiff
