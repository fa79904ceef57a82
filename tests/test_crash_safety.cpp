// Crash safety of `train`, tested the way the README promises it:
//   - SIGKILL at many random moments, inside checkpoint writes too, then a resume each time:
//     the final weights are bit-identical to an uninterrupted run's, no checkpoint is ever
//     unreadable, and no temporary file is left;
//   - a full disk during a checkpoint write keeps the previous checkpoint, and the message
//     names the cause (a real small file system, mounted in a user namespace);
//   - two train processes on one --out: the second is refused, naming the first.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "nn/checkpoint.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

bool binaries_present() { return fs::exists(test::bin("train")); }

// Every file of `dir` whose name holds ".tmp": what a write that never finished leaves.
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos)
      found.push_back(e.path().string());
  return found;
}

// Waits for `pid`; true when it exited by itself with status 0.
bool finished(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Starts `command`, which writes checkpoints into `dir`, and kills it the moment a checkpoint
// temporary appears there (inotify), or after `seconds`. Returns whether the temporary was still
// there after the kill: the kill landed inside a checkpoint write, between the temporary's
// creation and its rename.
bool kill_inside_checkpoint_write(const std::string& command, const std::string& dir,
                                  double seconds) {
  const int fd = ::inotify_init1(IN_CLOEXEC);
  const int watch = ::inotify_add_watch(fd, dir.c_str(), IN_CREATE);  // before the start
  const pid_t pid = test::spawn(command);
  const std::string temp = "checkpoint.ckpt.tmp." + std::to_string(pid);
  bool seen = false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  alignas(inotify_event) char buf[4096];
  while (!seen && watch >= 0 && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    for (ssize_t i = 0; i < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + i);
      if (e->len > 0 && temp == e->name) seen = true;
      i += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(fd);
  return fs::exists(dir + "/" + temp);
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const nn::Checkpoint ca = nn::load_checkpoint(a), cb = nn::load_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    const std::vector<float> va = ca.model[i].tensor.to_vector(), vb = cb.model[i].tensor.to_vector();
    ASSERT_EQ(va.size(), vb.size());
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)), 0)
        << ca.model[i].name << " differs";
  }
}

TEST(CrashSafety, KilledAtRandomMomentsResumesToBitIdenticalWeights) {
  ASSERT_TRUE(binaries_present()) << "make test builds ./train first";
  test::TempDir dir;
  // A checkpoint after every step, so that much of the run is spent writing checkpoints, and a
  // network whose checkpoint (4.3 MB with the EMA and Adam's moments) takes milliseconds to
  // write even to memory, so that a kill sent when its temporary appears lands inside the write.
  constexpr int64_t kSteps = 100;
  auto command = [](const std::string& out) {
    return test::bin("train") + " --data gmm8 --config \"mlp hidden=256 layers=2\" --schedule vp "
           "--batch 64 --steps " + std::to_string(kSteps) + " --warmup 10 --lr 1e-3 --threads 1 "
           "--checkpoint-every 1 --sample-every 0 --log-every 1000 --out " + out;
  };
  // Kills that must land inside a checkpoint write, and kills at moments drawn uniformly from
  // [0, kMaxDelay) after a start (the seed only fixes which moments; any moments must pass).
  constexpr int kInsideWrites = 3, kRandomKills = 12;
  constexpr double kMaxDelay = 1.5, kWaitForWrite = 60.0;
  const std::string plain = dir.file("plain"), killed = dir.file("killed");
  ASSERT_EQ(test::run_command(command(plain)).status, 0);

  auto check_folder = [&] {  // after every kill: whatever checkpoint is there reads back whole
    if (fs::exists(killed + "/checkpoint.ckpt")) {
      EXPECT_NO_THROW(nn::load_checkpoint(killed + "/checkpoint.ckpt"));
    }
  };
  fs::create_directories(killed);  // for the watch; train creates the rest
  int inside = 0;
  for (int attempt = 0; attempt < 4 * kInsideWrites && inside < kInsideWrites; ++attempt) {
    inside += kill_inside_checkpoint_write(command(killed), killed, kWaitForWrite);
    check_folder();
  }
  EXPECT_EQ(inside, kInsideWrites) << "kills sent as a temporary appeared missed the writes";
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> delay(0.0, kMaxDelay);
  bool done = false;
  int kills = 0;
  for (int k = 0; k < kRandomKills && !done; ++k) {
    const pid_t pid = test::spawn(command(killed));
    std::this_thread::sleep_for(std::chrono::duration<double>(delay(rng)));
    ::kill(pid, SIGKILL);  // a no-op if the run has already finished
    done = finished(pid);
    kills += !done;
    check_folder();
  }
  std::printf("[ crash    ] %d kills inside checkpoint writes, %d at random moments%s\n", inside,
              kills, done ? "" : ", then a run to the end");
  if (!done) {
    ASSERT_TRUE(finished(test::spawn(command(killed))));
  }
  expect_same_weights(plain + "/model.ckpt", killed + "/model.ckpt");
  EXPECT_EQ(temporaries(killed), std::vector<std::string>{});
  // The loss log holds each step exactly once.
  std::ifstream csv(killed + "/loss.csv");
  std::string line;
  int64_t last = 0;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) EXPECT_EQ(std::stoll(line.substr(0, line.find(','))), ++last);
  EXPECT_EQ(last, kSteps);
}

// Whether this machine lets an unprivileged process mount a file system in a user namespace.
bool can_mount_tmpfs(const test::TempDir& dir) {
  fs::create_directory(dir.file("probe"));
  return test::run_command("unshare --user --map-root-user --mount sh -c 'mount -t tmpfs -o "
                           "size=64k tmpfs " + dir.file("probe") + "'").status == 0;
}

uint64_t pages(uint64_t bytes) { return (bytes + 4095) / 4096; }

TEST(CrashSafety, FullDiskDuringACheckpointKeepsThePreviousOne) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir;
  if (!can_mount_tmpfs(dir))
    GTEST_SKIP() << "cannot mount a small file system here (unshare --user --mount)";
  const std::string src = dir.file("src"), mnt = dir.file("mnt"), run = mnt + "/run";
  ASSERT_EQ(test::run_command(test::toy_train(src, 20)).status, 0);
  const std::string before = test::read_text(src + "/checkpoint.ckpt");
  // Room for the run folder as it is, a few pages for the log and the lock, and half of a new
  // checkpoint: the next checkpoint's temporary file cannot be written whole.
  constexpr uint64_t kSlackPages = 4;
  uint64_t room = kSlackPages + pages(before.size()) / 2;
  for (const auto& e : fs::recursive_directory_iterator(src))
    if (e.is_regular_file()) room += pages(e.file_size());
  fs::create_directory(mnt);
  const std::string script = dir.file("full.sh");
  std::ofstream(script) << "set -e\nmount -t tmpfs -o size=" << room * 4096 << " tmpfs " << mnt
                        << "\ncp -a " << src << " " << run << "\nset +e\n"
                        << test::toy_train(run, 40) << " > " << dir.file("out") << " 2>&1\n"
                        << "echo $? > " << dir.file("status") << "\ncp " << run
                        << "/checkpoint.ckpt " << dir.file("after.ckpt") << "\nls -a " << run
                        << " > " << dir.file("listing") << "\n";
  ASSERT_EQ(test::run_command("unshare --user --map-root-user --mount sh " + script).status, 0);
  const std::string out = test::read_text(dir.file("out"));
  EXPECT_EQ(test::read_text(dir.file("status")), "2\n") << out;
  for (const char* part : {"checkpoint.ckpt", "No space left on device"})
    EXPECT_NE(out.find(part), std::string::npos) << part << " not in:\n" << out;
  EXPECT_EQ(test::read_text(dir.file("after.ckpt")), before);  // step 20's, byte for byte
  EXPECT_EQ(test::read_text(dir.file("listing")).find(".tmp"), std::string::npos);
}

TEST(CrashSafety, SecondTrainOnOneFolderIsRefused) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir;
  const std::string out = dir.file("run");
  const pid_t first = test::spawn(test::toy_train(out, 1000000));
  ASSERT_TRUE(test::wait_for_file(out + "/checkpoint.ckpt", 60.0));
  const CommandResult second = test::run_command("timeout 60 " + test::toy_train(out, 1000000));
  EXPECT_EQ(second.status, 2) << second.output;
  EXPECT_NE(second.output.find("another train process (pid " + std::to_string(first) + ")"),
            std::string::npos)
      << second.output;
  ::kill(first, SIGINT);  // the first run is unharmed: it stops cleanly and its checkpoint reads
  int status = 0;
  ::waitpid(first, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  EXPECT_GT(nn::load_checkpoint(out + "/checkpoint.ckpt").step, 0u);
}

}  // namespace
}  // namespace mindiff
