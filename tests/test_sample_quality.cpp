// Scoring samples with the classifier: the classifier file round trip and its errors, and
// SampleScorer on Fashion-MNIST with an untrained (randomly initialised) classifier, whose
// features still tell images from noise: real test images score near the training-set floor and
// far below noise, the histogram and the label agreement match an independent count, and bad
// input (shapes, counts, values) fails clearly.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/idx.h"
#include "diffusion/app/sample_quality.h"
#include "nn/checkpoint.h"
#include "diffusion/app/classifier_io.h"
#include "diffusion/app/classifier_train.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using diffusion::QualityReport;
using diffusion::SampleScorer;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mindiff_quality_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

diffusion::ClassifierConfig small_config() {
  diffusion::ClassifierConfig c;
  c.width = 8;  // small and untrained: these tests check the plumbing, not the classifier
  c.features = 16;
  return c;
}

TEST(ClassifierIo, RoundTripsWeightsConfigAndExtras) {
  TempDir dir;
  Generator gen(4);
  diffusion::Classifier net(small_config(), gen);
  diffusion::save_classifier(net, {{"data", "fashion-mnist"}, {"class_names", "a,b,c,d,e,f,g,h,i,j"}},
                      dir.path + "/model.ckpt");
  // A folder means its model.ckpt.
  diffusion::SavedClassifier back = diffusion::load_classifier(dir.path);
  EXPECT_EQ(back.path, dir.path + "/model.ckpt");
  EXPECT_EQ(back.data, "fashion-mnist");
  ASSERT_EQ(back.class_names.size(), 10u);
  EXPECT_EQ(back.class_names[9], "j");
  EXPECT_EQ(back.net->config().to_string(), small_config().to_string());
  EXPECT_FALSE(back.net->training());
  net.eval();
  const Tensor x = randn(Shape({3, 1, 28, 28}), 9);
  // The same weights in the same network: bit-identical outputs.
  EXPECT_EQ(net.forward(x).to_vector(), back.net->forward(x).to_vector());
}

TEST(ClassifierIo, ErrorsNameTheFileAndTheProblem) {
  TempDir dir;
  test::expect_error([&] { diffusion::load_classifier(dir.path + "/none.ckpt"); },
                     {dir.path + "/none.ckpt", "no such file", "--model classifier"});
  // A checkpoint of another model.
  nn::Checkpoint other;
  other.model_config = "unet in=1 size=28";
  other.model.push_back({"w", randn(Shape({2}), 1)});
  nn::save_checkpoint(other, dir.path + "/unet.ckpt");
  test::expect_error([&] { diffusion::load_classifier(dir.path + "/unet.ckpt"); },
                     {"unet.ckpt", "not a classifier checkpoint", "unet in=1"});
  // A damaged file.
  std::FILE* f = std::fopen((dir.path + "/bad.ckpt").c_str(), "wb");
  std::fputs("MINDIFF garbage", f);
  std::fclose(f);
  test::expect_error([&] { diffusion::load_classifier(dir.path + "/bad.ckpt"); }, {"bad.ckpt"});
}

// One scorer for the tests below: an untrained classifier saved with data fashion-mnist.
class SampleScorerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      test_ = new Dataset(load_fashion_mnist("test"));
    } catch (const Error&) {
      return;  // each test skips
    }
    dir_ = new TempDir;
    Generator gen(2);
    net_ = new diffusion::Classifier(small_config(), gen);
    net_->eval();
    diffusion::save_classifier(*net_, {{"data", "fashion-mnist"}}, dir_->path + "/c.ckpt");
    scorer_ = new SampleScorer(dir_->path + "/c.ckpt", /*seed=*/7);
  }
  static void TearDownTestSuite() {
    delete scorer_;
    delete net_;
    delete dir_;
    delete test_;
  }
  void SetUp() override {
    if (!scorer_) GTEST_SKIP() << "Fashion-MNIST not installed (make deps)";
  }
  static Dataset* test_;
  static TempDir* dir_;
  static diffusion::Classifier* net_;
  static SampleScorer* scorer_;
};
Dataset* SampleScorerTest::test_ = nullptr;
TempDir* SampleScorerTest::dir_ = nullptr;
diffusion::Classifier* SampleScorerTest::net_ = nullptr;
SampleScorer* SampleScorerTest::scorer_ = nullptr;

TEST_F(SampleScorerTest, RealImagesScoreNearTheFloorAndFarBelowNoise) {
  const int64_t n = 500;
  const Tensor images = test_->images.slice(0, 0, n);
  const QualityReport r = scorer_->score(images);
  EXPECT_EQ(r.n, n);
  EXPECT_EQ(r.test_n, 10000);
  EXPECT_EQ(r.dim, 16);
  // Test images are a subset of the reference set itself and training images come from the same
  // law: both are within sampling noise of each other. Noise images are a different law, whose
  // FD must dwarf both even under random features. Factors 3 and 10 leave room for the
  // sampling noise of N = 500 while failing a swapped or constant feature set.
  constexpr double kSameLawFactor = 3.0, kNoiseFactor = 10.0;
  EXPECT_GT(r.fd_train, 0.0);
  EXPECT_LT(r.fd, kSameLawFactor * r.fd_train) << format_report(r);
  EXPECT_GT(r.fd_noise, kNoiseFactor * r.fd_train) << format_report(r);
  // Noise as the "samples" scores what the noise reference scores, give or take its own draw.
  const Tensor noise = rand(images.shape(), 99) * 2.0f - 1.0f;
  EXPECT_GT(scorer_->score(noise).fd, kNoiseFactor * r.fd_train);
}

TEST_F(SampleScorerTest, HistogramAndAgreementMatchAnIndependentCount) {
  const int64_t n = 300;
  const Tensor images = test_->images.slice(0, 0, n);
  const std::vector<int64_t> labels(test_->labels.begin(), test_->labels.begin() + n);
  const QualityReport r = scorer_->score(images, labels);
  int64_t total = 0;
  for (int64_t c : r.histogram) total += c;
  EXPECT_EQ(total, n);
  ASSERT_EQ(r.histogram.size(), 10u);
  // Agreement with the true labels is the classifier's accuracy, counted by other code.
  const double accuracy = diffusion::classifier_accuracy(*net_, *test_, n);
  EXPECT_EQ(r.agree, static_cast<int64_t>(std::llround(accuracy * n)));
  // The histogram counts the same predictions: one class k's count from forward() directly.
  const std::vector<float> logits = net_->forward(images).to_vector();
  std::vector<int64_t> counts(10, 0);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * 10;
    ++counts[std::max_element(row, row + 10) - row];
  }
  EXPECT_EQ(r.histogram, counts);
  const std::string text = format_report(r);
  EXPECT_NE(text.find("N=300"), std::string::npos) << text;
  EXPECT_NE(text.find("agrees with the class asked for on"), std::string::npos) << text;
}

TEST_F(SampleScorerTest, BadInputFailsClearly) {
  test::expect_error([] { scorer_->score(randn(Shape({10, 3, 32, 32}), 1), {}, "x.npy"); },
                     {"x.npy", "[10, 3, 32, 32]", "[N, 1, 28, 28]"});
  test::expect_error([] { scorer_->score(randn(Shape({10, 2}), 1), {}, "points.npy"); },
                     {"points.npy", "[10, 2]", "cannot be scored"});
  test::expect_error([] { scorer_->score(zeros(Shape({1, 1, 28, 28}))); }, {"at least 2", "got 1"});
  test::expect_error([] { scorer_->score(zeros(Shape({4, 1, 28, 28})), {1, 2}); },
                     {"2 labels for 4 images"});
  Tensor nan = zeros(Shape({4, 1, 28, 28}));
  nan.data()[5] = NAN;
  test::expect_error([&] { scorer_->score(nan); }, {"value 5", "not finite"});
  test::expect_error([] { scorer_->check_shape(Shape({3, 32, 32}), "--score: model.ckpt"); },
                     {"--score: model.ckpt", "[3, 32, 32]"});
  scorer_->check_shape(Shape({1, 28, 28}), "a model's sample shape");  // accepted
}

}  // namespace
}  // namespace mindiff
