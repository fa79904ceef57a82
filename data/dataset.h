// Dataset: what every loader in data/ returns and what DataLoader (data/loader.h) batches.
//
// Shapes: N examples; images [N, C, H, W] for image sets (float32 in [-1, 1]: a byte x becomes
// x / 127.5 - 1), or [N, D] for vector sets such as the 2-D toy sets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

struct Dataset {
  std::string name;                      // e.g. "fashion-mnist/train", for logs
  Tensor images;                         // [N, C, H, W] (or [N, D]), contiguous
  std::vector<int64_t> labels;           // N class indices in [0, num_classes); empty if unlabeled
  int64_t num_classes = 0;               // 0 for an unlabeled set
  std::vector<std::string> class_names;  // num_classes names when known, else empty

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  // The shape of one example: [C, H, W] or [D].
  Shape sample_shape() const {
    const std::vector<int64_t> dims = images.shape().vec();
    return Shape(std::vector<int64_t>(dims.begin() + 1, dims.end()));
  }
  bool labeled() const { return !labels.empty(); }
};

// Byte pixels -> floats in [-1, 1]: out[i] = in[i] / 127.5 - 1 (0 -> -1, 255 -> +1).
void bytes_to_unit_range(const uint8_t* in, int64_t n, float* out);

}  // namespace mindiff
