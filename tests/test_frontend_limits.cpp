// The train and sample binaries, as a user runs them, on the inputs issue #17 found them
// crashing, hanging, wrapping or losing work on: each now ends with a message naming the value
// and exit status 2 (or, for a closed output, a clean stop with a checkpoint). Every command runs
// under timeout(1), so a hang fails the test instead of stalling the suite.
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

// Long enough for a real start on a loaded machine; a hang (the original --n and allocator
// bugs hung for minutes) still fails.
constexpr int kTimeoutSeconds = 60;
constexpr int kTimedOut = 124;  // timeout(1)'s status for a command it had to stop

CommandResult run(const std::string& command) {
  return test::run_command("timeout " + std::to_string(kTimeoutSeconds) + " " + command);
}

bool binaries_present() {
  return fs::exists(test::bin("train")) && fs::exists(test::bin("sample"));
}

void expect_refused(const std::string& command, const std::vector<std::string>& message) {
  const CommandResult r = run(command);
  EXPECT_EQ(r.status, 2) << command << "\n" << r.output;
  for (const std::string& m : message)
    EXPECT_NE(r.output.find(m), std::string::npos) << command << "\nlacks '" << m << "':\n"
                                                    << r.output;
}

std::string bytes_of(const std::string& path) { return test::read_text(path); }

TEST(FrontendLimits, ThreadsStepsAndSampleCountsAreBounded) {
  ASSERT_TRUE(binaries_present()) << "make test builds ./train and ./sample first";
  test::TempDir dir;
  const std::string toy = dir.file("toy");
  ASSERT_EQ(run(test::toy_train(toy, 10)).status, 0);
  const std::string sample = test::bin("sample") + " --checkpoint " + toy + " --out " +
                             dir.file("x.npy") + " ";
  // --threads 65536 (sample) and 100000 (train) died with SIGSEGV.
  expect_refused(sample + "--threads 65536", {"--threads 65536", "out of range", "0 to 1024"});
  expect_refused(test::toy_train(dir.file("t"), 10) + " --threads 100000", {"--threads 100000"});
  // --steps 4294967297 wrapped to 1 and wrote output; a huge --n sampled for minutes, silent.
  expect_refused(sample + "--steps 4294967297", {"--steps 4294967297", "out of range"});
  expect_refused(sample + "--n 100000000000", {"--n 100000000000", "from 1 to 1000000"});
  // Narrowed or unbounded sizes of train: the folder loader's image size, the channel count.
  expect_refused(test::toy_train(dir.file("u"), 10) + " --image-size 1000000", {"--image-size"});
  expect_refused(test::toy_train(dir.file("v"), 10) + " --channels 4294967297", {"--channels"});
  expect_refused(test::bin("sample") + " --checkpoint /dev/null", {"/dev/null", "not a regular file"});
  // Several batches: each one is reported as it is done.
  const CommandResult r = run(sample + "--n 6 --batch 4 --steps 2 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("4 of 6 sampled"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("6 of 6 sampled"), std::string::npos) << r.output;
}

// A checkpoint with a valid CRC whose config asks for 2^62 hidden units made `sample` write past
// a heap buffer; 2^60 with temb=2 hung it. The same configs given to `train --config` crashed.
TEST(FrontendLimits, CraftedCheckpointConfigsAreRefusedByName) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir;
  // hidden = 2^62 with temb 8 (the overflow), 2^60 with temb 2 (the hang).
  for (const auto& [hidden, temb] : {std::pair{"4611686018427387904", "8"},
                                     std::pair{"1152921504606846976", "2"}}) {
    nn::Checkpoint ck;
    ck.model_config = std::string("mlp dim=2 hidden=") + hidden + " layers=3 temb=" + temb +
                      " classes=0";
    ck.extras = {{"process", "vp"}, {"objective", "eps"}};
    const std::string path = dir.file("crafted.ckpt");
    nn::save_checkpoint(ck, path);
    expect_refused(test::bin("sample") + " --checkpoint " + path,
                   {path, std::string("hidden=") + hidden, "outside"});
    expect_refused(test::bin("train") + " --data gmm8 --config \"mlp hidden=" + hidden +
                       "\" --out " + dir.file("run"),
                   {"--config", std::string("hidden=") + hidden});
  }
}

// Rerunning a finished run with --ema-decay 0 silently replaced model.ckpt's EMA weights with the
// live ones; the reverse failed with "the state is of kind ''". The EMA setting is now part of
// what a resumed run must share with the folder, and is named when it differs.
TEST(FrontendLimits, ResumingWithAnotherEmaSettingIsRefused) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir;
  const std::string with_ema = dir.file("ema"), without = dir.file("live");
  ASSERT_EQ(run(test::toy_train(with_ema, 20)).status, 0);
  const std::string model = bytes_of(with_ema + "/model.ckpt");
  expect_refused(test::toy_train(with_ema, 20) + " --ema-decay 0", {with_ema, "ema_decay", "'0'"});
  EXPECT_EQ(bytes_of(with_ema + "/model.ckpt"), model);
  ASSERT_EQ(run(test::toy_train(without, 20) + " --ema-decay 0").status, 0);
  expect_refused(test::toy_train(without, 20), {without, "ema_decay", "'0.999'"});
}

// `./train ... | head -2` died of SIGPIPE without a word. A closed output now stops the run like
// Ctrl-C: the step finishes, a checkpoint is saved, a note goes to stderr, the status is 130.
TEST(FrontendLimits, ClosedOutputStopsTrainingWithACheckpoint) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir;
  const std::string out = dir.file("run"), script = dir.file("pipe.sh");
  std::ofstream(script) << test::toy_train(out, 1000000) << " --log-every 10 2> " << dir.file("err")
                        << " | head -2 > /dev/null\necho ${PIPESTATUS[0]} > " << dir.file("status")
                        << "\n";
  const CommandResult r = run("bash " + script);
  ASSERT_NE(r.status, kTimedOut) << "train did not stop when its output was closed";
  EXPECT_EQ(test::read_text(dir.file("status")), "130\n") << test::read_text(dir.file("err"));
  EXPECT_NE(test::read_text(dir.file("err")).find("standard output was closed"), std::string::npos)
      << test::read_text(dir.file("err"));
  const nn::Checkpoint ck = nn::load_checkpoint(out + "/checkpoint.ckpt");
  EXPECT_GT(ck.step, 0u);
  EXPECT_LT(ck.step, 1000000u);
}

}  // namespace
}  // namespace mindiff
