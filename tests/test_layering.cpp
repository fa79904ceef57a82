// tests/check_layering.sh, the check `make test` runs on the repository: it passes on this tree,
// and on small made-up trees it names each include that goes the wrong way and lets the allowed
// ones through.
#include <filesystem>
#include <fstream>

#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

const char* const kScript = "tests/check_layering.sh";

// A file at `path` under `root` whose only content is the given include lines.
void write_file(const std::string& root, const std::string& path,
                const std::vector<std::string>& includes) {
  const std::filesystem::path p = std::filesystem::path(root) / path;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p);
  for (const std::string& inc : includes) out << "#include \"" << inc << "\"\n";
  out << "#include <vector>\n";  // system headers are not the project's: never checked
}

TEST(Layering, ThisTreePasses) {
  const test::CommandResult r = test::run_command(kScript);
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Layering, IncludesDownTheLayersPass) {
  test::TempDir dir("layering");
  write_file(dir.path, "tensor/tensor.cpp", {"tensor/tensor.h", "tensor/device_backend.h"});
  write_file(dir.path, "autograd/node.h", {"tensor/tensor.h"});
  write_file(dir.path, "cuda/conv2d.h", {"tensor/ops/conv2d_geometry.h", "tensor/tensor.h"});
  write_file(dir.path, "tensor/ops/conv2d.cpp", {"cuda/conv2d.h", "autograd/node.h"});
  write_file(dir.path, "nn/unet.cpp", {"tensor/ops.h", "data/dataset.h"});
  write_file(dir.path, "diffusion/app/flags.cpp", {"diffusion/sampler.h", "nn/unet.h"});
  write_file(dir.path, "train.cpp", {"diffusion/app/flags.h", "tensor/device_backend.h"});
  const test::CommandResult r = test::run_command(std::string(kScript) + " " + dir.path);
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Layering, EachWrongWayIncludeIsNamed) {
  test::TempDir dir("layering");
  // One include the wrong way per layer boundary the issue found, each named with its file.
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"tensor/tensor.cpp", "cuda/backend.h"},        // the core reaching into cuda/
      {"autograd/backward.cpp", "tensor/ops.h"},      // autograd above ops
      {"cuda/nccl.h", "nn/communicator.h"},           // cuda/ above nn
      {"nn/ema.cpp", "cuda/optim.h"},                 // cuda/ reached past ops
      {"diffusion/sampler.cpp", "diffusion/app/x.h"},  // the theory on its front-end plumbing
      {"tensor/ops/norm_geometry.h", "tensor/ops/norm.h"},  // a shared header on an op
      {"sample.cpp", "tests/test_util.h"},            // a path in no layer
  };
  for (const auto& [file, inc] : wrong) write_file(dir.path, file, {inc});
  const test::CommandResult r = test::run_command(std::string(kScript) + " " + dir.path);
  EXPECT_EQ(r.status, 1) << r.output;
  for (const auto& [file, inc] : wrong)
    EXPECT_NE(r.output.find(file + " includes \"" + inc + "\""), std::string::npos)
        << file << " -> " << inc << " not reported in:\n"
        << r.output;
}

}  // namespace
}  // namespace mindiff
