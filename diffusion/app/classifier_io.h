// A trained classifier (diffusion/app/classifier.h) as a weights-only checkpoint file (nn/checkpoint.h,
// docs/checkpoint.md): CONF holds ClassifierConfig::to_string(), so the file alone rebuilds the
// network; MODL the weights by name; empty EMA and optimizer states; XTRA at least
//   kind          "classifier"
//   data          the --data it was trained on (its test split is what samples are scored against)
//   class_names   comma-separated, when the data names its classes
// plus whatever else the trainer records (test_accuracy, settings).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "diffusion/app/classifier.h"

namespace mindiff::diffusion {

struct SavedClassifier {
  std::string path;  // the file actually read
  std::shared_ptr<Classifier> net;  // in evaluation mode
  std::string data;
  std::vector<std::string> class_names;
  double test_accuracy = -1;  // the recorded accuracy on its test set, in [0, 1]; -1: none
  std::map<std::string, std::string> extras;
};

// Writes the classifier atomically; `extras` must hold "data" (and may hold "class_names" etc.).
void save_classifier(const Classifier& net, const std::map<std::string, std::string>& extras,
                     const std::string& path);

// `path` is a classifier file, or a folder holding model.ckpt. Errors name the path: a missing
// file (with the command that makes one), a damaged file, a checkpoint of another model, a
// recorded test_accuracy that is not a fraction.
SavedClassifier load_classifier(const std::string& path);

}  // namespace mindiff::diffusion
