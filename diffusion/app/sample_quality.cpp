#include "diffusion/app/sample_quality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "data/open.h"
#include "tensor/ops.h"

namespace mindiff::diffusion {

namespace {

// Rows `index` of a contiguous [N, ...] tensor, as a new tensor.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& index) {
  const Tensor c = x.contiguous();
  const int64_t per = c.numel() / c.size(0);
  std::vector<int64_t> dims = c.shape().vec();
  dims[0] = static_cast<int64_t>(index.size());
  Tensor out = empty(Shape(dims));
  for (size_t i = 0; i < index.size(); ++i)
    std::copy(c.data() + index[i] * per, c.data() + (index[i] + 1) * per, out.data() + i * per);
  return out;
}

// n distinct rows of [0, total) in a seeded random order: the indices sorted by a uniform key.
std::vector<int64_t> random_subset(int64_t total, int64_t n, uint64_t seed) {
  const std::vector<float> key = rand(Shape({total}), seed).to_vector();
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key[a] < key[b]; });
  order.resize(std::min(n, total));
  return order;
}

}  // namespace

Classified classify(const diffusion::Classifier& net, const Tensor& images) {
  NoGradGuard no_grad;
  const int64_t n = images.size(0), k = net.config().num_classes;
  const int64_t kBatch = 256;  // memory only: results do not depend on it
  std::vector<Tensor> parts;
  Classified out;
  for (int64_t first = 0; first < n; first += kBatch) {
    const Tensor x = images.slice(0, first, std::min(n, first + kBatch));
    const Tensor f = net.features(x);
    parts.push_back(f);
    const std::vector<float> logits = net.logits(f).to_vector();
    for (int64_t i = 0; i < x.size(0); ++i) {
      const float* row = logits.data() + i * k;
      out.predictions.push_back(std::max_element(row, row + k) - row);
    }
  }
  out.features = parts.size() == 1 ? parts[0] : concat(parts, 0);
  return out;
}

SampleScorer::SampleScorer(const std::string& path, uint64_t seed)
    : classifier_(diffusion::load_classifier(path)), seed_(seed) {}

void SampleScorer::load_references() {
  if (test_n_ > 0) return;
  try {
    train_ = open_dataset(classifier_.data, OpenOptions{});
    OpenOptions test_options;
    test_options.split = "test";
    const Dataset test = open_dataset(classifier_.data, test_options);
    check_shape(test.images.shape(), test.name);
    test_stats_ = gaussian_stats(classify(*classifier_.net, test.images).features);
    test_name_ = test.name;
    test_n_ = test.size();  // last: marks the references as loaded
  } catch (const Error& e) {
    throw Error("classifier " + classifier_.path + " (trained on " + classifier_.data + "): " + e.what());
  }
}

void SampleScorer::check_shape(const Shape& shape, const std::string& what) const {
  const diffusion::ClassifierConfig& c = classifier_.net->config();
  const Shape want({c.in_channels, c.image_size, c.image_size});
  const bool one = shape.ndim() == 3 && shape == want;
  const bool many = shape.ndim() == 4 && Shape({shape[1], shape[2], shape[3]}) == want;
  MD_CHECK(one || many, what, ": images of shape ", shape.str(), " cannot be scored; the "
           "classifier ", classifier_.path, " takes [N, ", c.in_channels, ", ", c.image_size, ", ",
           c.image_size, "]");
}

QualityReport SampleScorer::score(const Tensor& images_in, const std::vector<int64_t>& labels,
                                  const std::string& what) {
  check_shape(images_in.shape(), what);
  const Tensor images = images_in.ndim() == 3 ? images_in.reshape({1, images_in.size(0), images_in.size(1), images_in.size(2)}) : images_in.contiguous();
  const int64_t n = images.size(0);
  MD_CHECK(n >= 2, what, ": a Frechet distance needs at least 2 images, got ", n);
  MD_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == n, what, ": ", labels.size(),
           " labels for ", n, " images");
  const std::vector<float> values = images.to_vector();
  for (size_t i = 0; i < values.size(); ++i)
    MD_CHECK(std::isfinite(values[i]), what, ": value ", i, " is not finite (", values[i], ")");
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  if (*lo < -1.01f || *hi > 1.01f)  // 1% slack: float rounding of data written in [-1, 1]
    std::fprintf(stderr, "warning: %s range from %g to %g; images are expected in [-1, 1]\n",
                 what.c_str(), *lo, *hi);

  load_references();
  const diffusion::Classifier& net = *classifier_.net;
  QualityReport r;
  r.classifier = classifier_.path;
  r.classifier_accuracy = classifier_.test_accuracy;
  r.test_name = test_name_;
  r.test_n = test_n_;
  r.dim = test_stats_.dim;
  r.n = n;
  r.class_names = classifier_.class_names;
  const Classified samples = classify(net, images);
  r.fd = frechet_distance(gaussian_stats(samples.features), test_stats_);
  r.histogram.assign(net.config().num_classes, 0);
  for (int64_t p : samples.predictions) ++r.histogram[p];
  if (!labels.empty()) {
    r.agree = 0;
    for (int64_t i = 0; i < n; ++i) r.agree += samples.predictions[i] == labels[i];
  }
  // References at the same N. A training subset larger than the training set cannot be drawn;
  // then the whole set stands in, and the report shows its size.
  const Tensor subset = gather_rows(train_.images, random_subset(train_.size(), n, seed_));
  r.fd_train = frechet_distance(gaussian_stats(classify(net, subset).features), test_stats_);
  const Tensor noise = rand(images.shape(), seed_ ^ 0x5EEDull) * 2.0f - 1.0f;
  r.fd_noise = frechet_distance(gaussian_stats(classify(net, noise).features), test_stats_);
  return r;
}

std::string format_report(const QualityReport& r) {
  std::string s;
  char buf[256];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    s += buf;
  };
  line("scored against %s (%ld images) with the classifier %s", r.test_name.c_str(),
       static_cast<long>(r.test_n), r.classifier.c_str());
  if (r.classifier_accuracy >= 0) line(" (test accuracy %.1f%%)", 100 * r.classifier_accuracy);
  line("\nFrechet distance on its %ld penultimate features (lower is better; compare at equal N):\n",
       static_cast<long>(r.dim));
  const long n = static_cast<long>(r.n);
  line("  samples                          N=%-6ld FD %9.3f\n", n, r.fd);
  line("  training images (the floor)      N=%-6ld FD %9.3f\n", n, r.fd_train);
  line("  uniform noise in [-1, 1]         N=%-6ld FD %9.3f\n", n, r.fd_noise);
  if (r.n <= r.dim)
    line("  (N <= %ld features: the covariances are singular and the FD is strongly biased)\n",
         static_cast<long>(r.dim));
  line("classes of the samples, as the classifier predicts them (N=%ld):\n", n);
  for (size_t k = 0; k < r.histogram.size(); ++k) {
    const std::string name = k < r.class_names.size() ? r.class_names[k] : "class " + std::to_string(k);
    line("  %2zu %-14s %6ld  %5.1f%%\n", k, name.c_str(), static_cast<long>(r.histogram[k]),
         100.0 * static_cast<double>(r.histogram[k]) / static_cast<double>(r.n));
  }
  if (r.agree >= 0)
    line("the classifier agrees with the class asked for on %ld of N=%ld (%.1f%%)\n",
         static_cast<long>(r.agree), n, 100.0 * static_cast<double>(r.agree) / static_cast<double>(r.n));
  return s;
}

}  // namespace mindiff::diffusion
