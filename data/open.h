// Opening a dataset from what a user types as --data:
//   fashion-mnist           Debian's dataset-fashion-mnist (the default)
//   mnist:DIR               MNIST-format IDX files in DIR (train-images-idx3-ubyte[.gz] and
//                           train-labels-idx1-ubyte[.gz]; t10k-* for the test split)
//   cifar10:DIR             the CIFAR-10 binary batches in DIR
//   folder:DIR, or a DIR    every PNG/BMP image in DIR, resized and centre-cropped
//   gmm8, moons, ...        a 2-D toy set (data/toy2d.h)
#pragma once
#include <string>

#include "data/dataset.h"

namespace mindiff {

struct OpenOptions {
  std::string split = "train";  // "train" or "test" where the format has both
  int64_t image_size = 32;      // folders: output size S (images become S x S)
  int channels = 3;             // folders: 1 (grayscale) or 3 (RGB)
  int64_t toy_points = 100000;  // toy sets: how many points to draw
  uint64_t toy_seed = 0;
};

Dataset open_dataset(const std::string& spec, const OpenOptions& options = {});

}  // namespace mindiff
