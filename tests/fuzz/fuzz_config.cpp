// Model config text (nn/config_text.h and the parse functions of nn/unet.h, nn/mlp.h,
// diffusion/app/classifier.h): as the line a checkpoint stores, and as what a user types as --config for
// image and vector data (DiffusionNet::config_for_data); each accepted line is built into its
// network, as `sample` and `train` do next.
#include "diffusion/app/classifier.h"
#include "diffusion/network.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

namespace {
constexpr int64_t kClasses = 3;  // a conditional data set, so class embeddings are built too
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Generator gen(0);
  fuzz::expect_clean([&] { diffusion::DiffusionNet::build(text, gen); });
  fuzz::expect_clean([&] { diffusion::Classifier(diffusion::ClassifierConfig::parse(text), gen); });
  for (const Shape& sample : {Shape{1, 8, 8}, Shape{2}})
    fuzz::expect_clean([&] {
      const std::string line = diffusion::DiffusionNet::config_for_data(text, sample, kClasses);
      diffusion::DiffusionNet::build(line, gen);
    });
  return 0;
}
