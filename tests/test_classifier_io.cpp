// Classifier files (nn/classifier_io.h): a recorded test accuracy that is not a fraction is
// named when the file is loaded. Issue #17: it gave "sample: stod" only after the whole test set
// had been classified.
#include "diffusion/app/classifier_io.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

TEST(ClassifierFile, RecordedAccuracyMustBeAFraction) {
  test::TempDir dir;
  Generator gen(1);
  const diffusion::Classifier net(diffusion::ClassifierConfig::parse(
                               "classifier in=1 size=4 classes=2 width=8 features=2 dropout=0"),
                           gen);
  const std::string good = dir.file("good.ckpt"), bad = dir.file("bad.ckpt");
  diffusion::save_classifier(net, {{"data", "gmm8"}, {"test_accuracy", "0.875"}}, good);
  EXPECT_DOUBLE_EQ(diffusion::load_classifier(good).test_accuracy, 0.875);
  for (const char* value : {"high", "0.5x", "1.5", "nan"}) {
    diffusion::save_classifier(net, {{"data", "gmm8"}, {"test_accuracy", value}}, bad);
    test::expect_error([&] { diffusion::load_classifier(bad); },
                       {bad, "test_accuracy", value, "not a fraction"});
  }
  diffusion::save_classifier(net, {{"data", "gmm8"}}, bad);  // not recorded: fine
  EXPECT_EQ(diffusion::load_classifier(bad).test_accuracy, -1);
}

}  // namespace
}  // namespace mindiff
