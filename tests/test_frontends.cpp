// The train and sample binaries, run as a user runs them: resume after SIGKILL with bit-identical
// weights, Ctrl-C saving a checkpoint, .npy output, and clear failures on bad input.
// `make test` builds ./train and ./sample first; the tests run from the repository root.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/idx.h"
#include "data/image_io.h"
#include "nn/checkpoint.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;

using test::CommandResult;

struct TempDir : test::TempDir {
  TempDir() : test::TempDir("frontend") {}
};

CommandResult run(const std::string& command) { return test::run_command(command); }

bool binaries_present() { return fs::exists(test::bin("train")) && fs::exists(test::bin("sample")); }

using test::spawn;
using test::toy_train;
using test::wait_for_file;

void expect_same_weights(const std::string& a, const std::string& b) {
  nn::Checkpoint ca = nn::load_checkpoint(a), cb = nn::load_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    std::vector<float> va = ca.model[i].tensor.to_vector(), vb = cb.model[i].tensor.to_vector();
    ASSERT_EQ(va.size(), vb.size());
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)), 0)
        << ca.model[i].name << " differs";
  }
}

TEST(Frontends, KilledRunResumesToBitIdenticalWeights) {
  ASSERT_TRUE(binaries_present()) << "build ./train and ./sample first (make test does)";
  TempDir dir;
  const int64_t kSteps = 400;
  const std::string plain = dir.path + "/plain", killed = dir.path + "/killed";
  CommandResult a = run(toy_train(plain, kSteps));
  ASSERT_EQ(a.status, 0) << a.output;

  // Start the same run, SIGKILL it once its first checkpoint exists, and check it was mid-way.
  pid_t pid = spawn(toy_train(killed, kSteps));
  ASSERT_TRUE(wait_for_file(killed + "/checkpoint.ckpt", 60.0));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  uint64_t at = nn::load_checkpoint(killed + "/checkpoint.ckpt").step;
  EXPECT_LT(at, static_cast<uint64_t>(kSteps));
  EXPECT_FALSE(fs::exists(killed + "/model.ckpt"));

  CommandResult b = run(toy_train(killed, kSteps));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("resuming"), std::string::npos) << b.output;
  expect_same_weights(plain + "/model.ckpt", killed + "/model.ckpt");
  // The loss log holds each step exactly once.
  std::ifstream csv(killed + "/loss.csv");
  std::string line;
  int64_t rows = 0, last = 0;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    int64_t step = std::stoll(line.substr(0, line.find(',')));
    EXPECT_EQ(step, last + 1);
    last = step;
    ++rows;
  }
  EXPECT_EQ(rows, kSteps);
}

// --stop-at ends a run early with a model, on the learning-rate schedule of --steps; the same
// command without it then continues to the weights of a run that never stopped.
TEST(Frontends, StopAtWritesAModelAndTheRunContinues) {
  ASSERT_TRUE(binaries_present());
  TempDir dir;
  const int64_t kSteps = 40, kStopAt = 20;
  const std::string plain = dir.path + "/plain", staged = dir.path + "/staged";
  ASSERT_EQ(run(toy_train(plain, kSteps)).status, 0);
  const CommandResult a = run(toy_train(staged, kSteps) + " --stop-at " + std::to_string(kStopAt));
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(nn::load_checkpoint(staged + "/model.ckpt").step, static_cast<uint64_t>(kStopAt));
  const CommandResult b = run(toy_train(staged, kSteps));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("resuming"), std::string::npos) << b.output;
  expect_same_weights(plain + "/model.ckpt", staged + "/model.ckpt");
  const CommandResult c = run(toy_train(dir.path + "/bad", kSteps) + " --stop-at 41");
  EXPECT_EQ(c.status, 2) << c.output;
  EXPECT_NE(c.output.find("--stop-at 41"), std::string::npos) << c.output;
}

TEST(Frontends, InterruptSavesACheckpointAndExits130) {
  ASSERT_TRUE(binaries_present());
  TempDir dir;
  const std::string out = dir.path + "/run";
  pid_t pid = spawn(toy_train(out, 100000));
  ASSERT_TRUE(wait_for_file(out + "/checkpoint.ckpt", 60.0));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  // The checkpoint was written at the step the run stopped: past the first periodic one.
  nn::Checkpoint ck = nn::load_checkpoint(out + "/checkpoint.ckpt");
  EXPECT_GT(ck.step, 0u);
}

TEST(Frontends, SampleWritesNpyOfTheStatedShapeAndPng) {
  ASSERT_TRUE(binaries_present());
  TempDir dir;
  const std::string out = dir.path + "/run";
  ASSERT_EQ(run(toy_train(out, 30)).status, 0);
  CommandResult s = run(test::bin("sample") + " --checkpoint " + out + " --n 50 --batch 16 --threads 1 --out " + dir.path + "/x.npy");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("sampled 50 in"), std::string::npos) << s.output;
  Tensor x = read_npy(dir.path + "/x.npy");
  EXPECT_EQ(x.shape(), Shape({50, 2}));
  for (float v : x.to_vector()) EXPECT_TRUE(std::isfinite(v));
  // Same seed, same samples, whatever --n and --batch: the first 10 of a run of 10.
  ASSERT_EQ(run(test::bin("sample") + " --checkpoint " + out + " --n 10 --batch 10 --threads 1 --out " + dir.path + "/y.npy").status, 0);
  std::vector<float> all = x.to_vector(), first = read_npy(dir.path + "/y.npy").to_vector();
  EXPECT_EQ(first, std::vector<float>(all.begin(), all.begin() + 20));
  ASSERT_EQ(run(test::bin("sample") + " --checkpoint " + out + " --n 20 --out " + dir.path + "/p.png").status, 0);
  EXPECT_TRUE(fs::exists(dir.path + "/p.png"));
}

TEST(Frontends, BadInputFailsClearly) {
  ASSERT_TRUE(binaries_present());
  TempDir dir;
  struct Case {
    std::string command;
    std::vector<std::string> message;
  };
  fs::create_directory(dir.path + "/empty");
  std::ofstream(dir.path + "/empty/notes.txt") << "not an image";
  std::ofstream(dir.path + "/bad.ckpt") << "MINDIFF garbage";
  const std::string run_dir = dir.path + "/run";
  ASSERT_EQ(run(toy_train(run_dir, 20)).status, 0);
  const std::vector<Case> cases = {
      {test::bin("train") + " --data mnist:/nonexistent/mnist --out " + dir.path + "/a", {"/nonexistent/mnist"}},
      {test::bin("train") + " --data " + dir.path + "/empty --out " + dir.path + "/b", {"empty", "no"}},
      {test::bin("train") + " --stepz 3", {"unknown flag --stepz"}},
      {test::bin("train") + " --steps ten", {"--steps", "'ten'"}},
      {test::bin("train") + " --steps -5 --out " + dir.path + "/c", {"--steps", "-5"}},
      {test::bin("train") + " --data gmm8 --schedule warp --out " + dir.path + "/d", {"warp"}},
      // Resuming a run folder with another model is refused, naming the difference.
      {toy_train(run_dir, 20) + " --config \"mlp hidden=64 layers=1\"", {run_dir, "model"}},
      // ... or with another recipe: objective, loss weighting, EMA.
      {toy_train(run_dir, 20) + " --objective v", {run_dir, "objective", "'eps'", "'v'"}},
      {toy_train(run_dir, 20) + " --min-snr-gamma 5", {run_dir, "min_snr_gamma", "'5'"}},
      {toy_train(run_dir, 20) + " --ema-decay 0", {run_dir, "ema_decay", "'0.999'", "'0'"}},
      // Recipe settings out of range, or not fitting together.
      {test::bin("train") + " --data gmm8 --sigma-data 0 --out " + dir.path + "/f", {"--sigma-data", "positive", "0"}},
      {test::bin("train") + " --data gmm8 --min-snr-gamma -1 --out " + dir.path + "/g", {"--min-snr-gamma", "-1"}},
      {test::bin("train") + " --data gmm8 --p-std 0 --out " + dir.path + "/h", {"--p-std", "positive"}},
      {test::bin("train") + " --data gmm8 --objective v --schedule ve --out " + dir.path + "/i",
       {"objective v", "variance-preserving", "'ve'"}},
      {test::bin("train") + " --data gmm8 --objective edm --min-snr-gamma 5 --out " + dir.path + "/j",
       {"--min-snr-gamma", "edm"}},
      {test::bin("train") + " --data gmm8 --objective velocity --out " + dir.path + "/k", {"velocity", "eps", "edm"}},
      {test::bin("train") + " --data gmm8 --threads 100000 --out " + dir.path + "/l", {"--threads", "100000"}},
      {test::bin("sample") + " --checkpoint /nonexistent.ckpt", {"/nonexistent.ckpt"}},
      {test::bin("sample") + " --checkpoint " + dir.path + "/bad.ckpt", {"bad.ckpt"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --sampler warp", {"--sampler warp", "unknown"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --n 4 --out /nonexistent/dir/x.png", {"/nonexistent/dir/x.png"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --out x.jpg", {"--out x.jpg", ".png or .npy"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --class 3", {"--class 3", "unconditional"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --steps 4294967297", {"--steps", "4294967297"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --n 0", {"--n", "0"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --sampler edm-stochastic --s-tmin 3 --s-tmax 1",
       {"--s-tmin", "--s-tmax"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --rho 0", {"--rho", "positive"}},
      // Scoring: a classifier that is missing or not a checkpoint; the classifier trainer's flags.
      {test::bin("sample") + " --score-file " + dir.path + "/x.npy --classifier /nonexistent/c.ckpt",
       {"/nonexistent/c.ckpt", "no such file"}},
      {test::bin("sample") + " --checkpoint " + run_dir + " --score --classifier " + dir.path + "/bad.ckpt", {"bad.ckpt"}},
      {test::bin("train") + " --model classifier --steps 5", {"--steps", "does not apply to --model classifier"}},
      {test::bin("train") + " --model classifier --out /nonexistent/dir/c.ckpt", {"/nonexistent/dir/c.ckpt"}},
      {test::bin("train") + " --model classifier --data gmm8 --out " + dir.path + "/e", {"gmm8", "square images"}},
      {test::bin("train") + " --model forest", {"--model forest", "diffusion or classifier"}},
      {test::bin("train") + " --epochs 3", {"--epochs", "--model classifier"}},
  };
  for (const Case& c : cases) {
    CommandResult r = run(c.command);
    EXPECT_NE(r.status, 0) << c.command << "\n" << r.output;
    for (const std::string& m : c.message)
      EXPECT_NE(r.output.find(m), std::string::npos) << c.command << "\nlacks '" << m << "':\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

bool fashion_mnist_installed() {
  try {
    load_fashion_mnist("test");
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(Frontends, ScoreReportsEveryFigureWithItsSampleCount) {
  ASSERT_TRUE(binaries_present());
  ASSERT_TRUE(fs::exists("models/classifier.ckpt")) << "the classifier that ships is missing";
  if (!fashion_mnist_installed()) GTEST_SKIP() << "Fashion-MNIST not installed (make deps)";
  TempDir dir;
  write_npy(dir.path + "/noise.npy", rand(Shape({20, 1, 28, 28}), 3) * 2.0f - 1.0f);
  CommandResult a = run(test::bin("sample") + " --score-file " + dir.path + "/noise.npy --threads 1");
  ASSERT_EQ(a.status, 0) << a.output;
  for (const char* part : {"samples                          N=20 ",
                           "training images (the floor)      N=20 ",
                           "uniform noise in [-1, 1]         N=20 ", "(N=20)", "fashion-mnist/test"})
    EXPECT_NE(a.output.find(part), std::string::npos) << "lacks '" << part << "':\n" << a.output;
  // Sample and score in one go: conditional samples are checked against the class asked for.
  CommandResult b = run(test::bin("sample") + " --n 4 --steps 2 --score --threads 1 --out " + dir.path + "/s.png");
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("agrees with the class asked for on"), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("of N=4 "), std::string::npos) << b.output;

  // Bad input that needs the data loaded before it can be judged.
  write_npy(dir.path + "/points.npy", randn(Shape({5, 2}), 1));
  const std::string toy = dir.path + "/toy";
  ASSERT_EQ(run(toy_train(toy, 20)).status, 0);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {test::bin("sample") + " --score-file " + dir.path + "/points.npy", {"points.npy", "[5, 2]", "[N, 1, 28, 28]"}},
      {test::bin("sample") + " --checkpoint " + toy + " --score", {"--score", "[2]", "cannot be scored"}},
      {test::bin("train") + " --model classifier --config \"classifier in=3\" --out " + dir.path + "/c",
       {"'in' comes from the data"}},
      {test::bin("train") + " --model classifier --config \"classifier depth=3\" --out " + dir.path + "/c",
       {"unknown key 'depth'"}},
  };
  for (const auto& [command, message] : cases) {
    CommandResult r = run(command);
    EXPECT_NE(r.status, 0) << command << "\n" << r.output;
    for (const std::string& m : message)
      EXPECT_NE(r.output.find(m), std::string::npos) << command << "\nlacks '" << m << "':\n" << r.output;
  }
}

}  // namespace
}  // namespace mindiff
