// Sample quality of generated images, measured with the mindiff classifier (diffusion/app/classifier_io.h)
// against the test split of the data it was trained on (Fashion-MNIST for the shipped one):
//
//   FD         the Frechet distance (diffusion/frechet.h) between Gaussians fitted to the
//              classifier's penultimate features of the N samples and of the whole test set;
//   floor      the same FD for N images drawn at random from the TRAINING set: what a model whose
//              samples were real images would score at this N (the estimate is biased upwards by
//              roughly D / N, so FDs are comparable only at equal N);
//   noise      the same FD for N images of uniform noise in [-1, 1], for scale;
//   histogram  the classifier's predicted class of each sample;
//   agreement  with the class each sample was drawn for (class-conditional sampling), how often
//              the classifier predicts that class.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "diffusion/frechet.h"
#include "diffusion/app/classifier_io.h"

namespace mindiff::diffusion {

struct QualityReport {
  std::string classifier;            // the classifier file
  double classifier_accuracy = -1;   // its recorded test accuracy (-1: not recorded)
  std::string test_name;             // e.g. "fashion-mnist/test"
  int64_t test_n = 0;
  int64_t dim = 0;                   // feature dimension D
  int64_t n = 0;                     // samples scored
  double fd = 0, fd_train = 0, fd_noise = 0;
  std::vector<int64_t> histogram;    // per class, sums to n
  std::vector<std::string> class_names;
  int64_t agree = -1;                // samples predicted as their requested class (-1: no labels)
};

class SampleScorer {
 public:
  // Loads the classifier (a file or a folder holding model.ckpt); the first score() loads the
  // train and test splits of its data and the test features' statistics. `seed` picks the
  // training subset and the noise.
  explicit SampleScorer(const std::string& classifier_path, uint64_t seed = 0);

  // Throws an Error naming `what` (e.g. "--score" or a file name) unless images of `shape`
  // ([N, C, H, W], or [C, H, W] for one sample) are what the classifier takes.
  void check_shape(const Shape& shape, const std::string& what) const;

  // Scores images [N, C, H, W] in [-1, 1] (N >= 2). `labels`, when not empty, holds the class
  // each sample was drawn for. `what` names the images in errors.
  QualityReport score(const Tensor& images, const std::vector<int64_t>& labels = {},
                      const std::string& what = "samples");

  // The classifier's class names (from its data), to match a model's labels against.
  const std::vector<std::string>& class_names() const { return classifier_.class_names; }

  // Loads the data and the test statistics now (score() does it once, when first called): a
  // front end calls it before sampling so that missing data fails before the work is done.
  void load_references();

 private:
  SavedClassifier classifier_;
  Dataset train_;
  std::string test_name_;
  int64_t test_n_ = 0;
  GaussianStats test_stats_;
  uint64_t seed_;
};

// The classifier's features [N, D] and predicted classes of images [N, C, H, W], in batches,
// without recording gradients.
struct Classified {
  Tensor features;
  std::vector<int64_t> predictions;
};
Classified classify(const diffusion::Classifier& net, const Tensor& images);

// The report as text, every figure with its sample count.
std::string format_report(const QualityReport& report);

}  // namespace mindiff::diffusion
