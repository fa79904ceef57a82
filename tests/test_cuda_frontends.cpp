// `train` and `sample` with --device, run as a user runs them. The ./train and ./sample that
// `make test` builds link the stub backend (cuda/stub.cpp), so `--device cuda` must say that
// mindiff was built without CUDA and exit non-zero before anything is written. When nvcc has
// built ./train_cuda and ./sample_cuda (`make cuda`, or `make test` on a machine with nvcc),
// they are run too: without a GPU they must say so; with one they get past the check.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;

using test::bin;
using test::CommandResult;

struct TempDir : test::TempDir {
  TempDir() : test::TempDir("cuda_frontend") {}
};

CommandResult run(const std::string& command) { return test::run_command(command); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A command line, and what it would write if it ran.
struct DeviceCommand {
  std::string command, writes;
};

TEST(CudaFrontends, DeviceCudaWithoutCudaFailsClearly) {
  const std::string train = bin("train"), sample = bin("sample");
  ASSERT_TRUE(fs::exists(train) && fs::exists(sample))
      << "build " << train << " and " << sample << " first (make test does)";
  TempDir dir;
  const std::vector<DeviceCommand> commands = {
      {train + " --device cuda --data gmm8 --steps 2 --out " + dir.path + "/run", dir.path + "/run"},
      {sample + " --device cuda --n 4 --out " + dir.path + "/x.png", dir.path + "/x.png"}};
  for (const DeviceCommand& c : commands) {
    const CommandResult r = run(c.command);
    EXPECT_EQ(r.status, 2) << c.command << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--device cuda")) << r.output;
    EXPECT_TRUE(contains(r.output, "built without CUDA")) << r.output;
    EXPECT_TRUE(contains(r.output, "make cuda")) << r.output;  // says how to get a CUDA build
    EXPECT_FALSE(contains(r.output, "terminate called")) << r.output;
    EXPECT_FALSE(fs::exists(c.writes)) << c.command << " wrote " << c.writes;
  }
}

TEST(CudaFrontends, UnknownDeviceIsNamed) {
  ASSERT_TRUE(fs::exists(bin("train")) && fs::exists(bin("sample")));
  TempDir dir;
  for (const std::string& program : {bin("train"), bin("sample")}) {
    const CommandResult r = run(program + " --device tpu --out " + dir.path + "/x.png");
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "--device tpu")) << r.output;
    EXPECT_TRUE(contains(r.output, "cpu or cuda")) << r.output;
  }
}

TEST(CudaFrontends, CudaBinariesCheckForAGpu) {
  if (!fs::exists("./train_cuda") || !fs::exists("./sample_cuda"))
    GTEST_SKIP() << "./train_cuda and ./sample_cuda not built (no nvcc on this machine)";
  TempDir dir;
  // Each command fails after the device check (a missing data folder, a missing checkpoint: both
  // pass the settings' checks, which come first), so with a GPU nothing runs either; what it
  // says before that tells whether it found one.
  const std::vector<DeviceCommand> commands = {
      {"./train_cuda --device cuda --data folder:" + dir.path + "/none --steps 1 --out " +
           dir.path + "/run",
       dir.path + "/run"},
      {"./sample_cuda --device cuda --checkpoint " + dir.path + "/none.ckpt --out " + dir.path +
           "/x.png",
       dir.path + "/x.png"}};
  for (const DeviceCommand& c : commands) {
    const CommandResult r = run(c.command);
    EXPECT_EQ(r.status, 2) << c.command << "\n" << r.output;
    if (contains(r.output, "no CUDA device available")) {
      EXPECT_TRUE(contains(r.output, "--device cuda")) << r.output;
      EXPECT_FALSE(contains(r.output, "device: ")) << r.output;
    } else {  // a GPU: the binary named it, then found no data or no checkpoint
      EXPECT_TRUE(contains(r.output, "device: ")) << r.output;
      EXPECT_TRUE(contains(r.output, dir.path + "/none")) << r.output;
    }
    EXPECT_FALSE(fs::exists(c.writes)) << c.command << " wrote " << c.writes;
    EXPECT_FALSE(contains(r.output, "terminate called")) << r.output;
  }
}

}  // namespace
}  // namespace mindiff
