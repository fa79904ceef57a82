// `mpirun -np 2 ./train`, as a user runs it: the same model as one process with the same global
// batch, bit-identical ranks, a clean stop and resume, a killed rank ending the job, a batch that does
// not split. Skipped (with the reason) where mpirun is missing.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "data/crc32.h"
#include "nn/checkpoint.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;

using test::CommandResult;

struct TempDir : test::TempDir {
  TempDir() : test::TempDir("mpi") {}
};

std::string slurp(const std::string& path) { return test::read_text(path); }

CommandResult run(const std::string& command) { return test::run_command(command); }

// Starts a command in the background (its output to `log`); the pid is the command's own.
pid_t spawn(const std::string& command, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command + " > " + log + " 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

bool wait_for_file(const std::string& path, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// waitpid with a time limit: the exit status, or nullopt (and the process killed) on time-out.
std::optional<int> wait_at_most(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return std::nullopt;
}

// The pid of the child of `parent` whose environment says OMPI_COMM_WORLD_RANK=rank, or -1.
pid_t find_rank(pid_t parent, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid ...: the command name may hold spaces, so parse after the last ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    const std::string env = slurp((entry.path() / "environ").string());
    size_t at = 0;
    for (size_t end; (end = env.find('\0', at)) != std::string::npos; at = end + 1)
      if (env.compare(at, end - at, want) == 0) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// Whether `pid` is still a live process (a zombie, dead but not yet reaped, is not).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

bool have_mpirun() { return run("command -v mpirun").status == 0; }

// mpirun with N processes; the variables let Open MPI run as root (test machines, containers)
// and place 2 processes on fewer cores. Under `make test-sanitize`, leak checking is off for the
// processes mpirun starts: Open MPI leaves its own allocations (in libmpi and in the plugins it
// unloads at exit, so LeakSanitizer cannot even name them) at MPI_Finalize, which no suppression
// can match; AddressSanitizer and UBSan still watch every access of those processes.
std::string mpirun(int n) {
  std::string env = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                    "OMPI_MCA_rmaps_base_oversubscribe=1 ";
  if (const char* asan = std::getenv("ASAN_OPTIONS"))
    env += "ASAN_OPTIONS=" + std::string(asan) + ":detect_leaks=0 ";
  return env + "mpirun -np " + std::to_string(n) + " ";
}

// A toy run: a tiny MLP on gmm8, one thread per process (bit-exact), no previews.
std::string toy_train(const std::string& out, int64_t batch, int64_t steps, int64_t every = 10) {
  return test::bin("train") + " --data gmm8 --config \"mlp hidden=32 layers=1\" --schedule vp --batch " +
         std::to_string(batch) + " --steps " + std::to_string(steps) +
         " --warmup 10 --lr 1e-3 --threads 1 --checkpoint-every " + std::to_string(every) +
         " --sample-every 0 --log-every 1000 --out " + out;
}

#define SKIP_WITHOUT_MPIRUN()                                                                \
  do {                                                                                       \
    ASSERT_TRUE(fs::exists(test::bin("train"))) << "build ./train first (make test does)"; \
    if (!have_mpirun()) GTEST_SKIP() << "mpirun not found (make deps installs openmpi-bin)"; \
  } while (0)

std::vector<float> weights(const nn::Checkpoint& ck) {
  std::vector<float> all;
  for (const nn::NamedTensor& t : ck.model) {
    std::vector<float> v = t.tensor.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

TEST(Mpi, TwoProcessesTrainTheModelOneProcessTrainsAndStayIdentical) {
  SKIP_WITHOUT_MPIRUN();
  TempDir dir;
  constexpr int64_t kBatch = 64, kSteps = 30;
  const std::string one = dir.path + "/one", two = dir.path + "/two", half = dir.path + "/half";
  CommandResult a = run(toy_train(one, kBatch, kSteps));
  ASSERT_EQ(a.status, 0) << a.output;
  CommandResult b = run(mpirun(2) + toy_train(two, kBatch, kSteps));
  ASSERT_EQ(b.status, 0) << b.output;
  // A run that differs for real: the same seed with half the batch.
  CommandResult c = run(toy_train(half, kBatch / 2, kSteps));
  ASSERT_EQ(c.status, 0) << c.output;

  const nn::Checkpoint ck_one = nn::load_checkpoint(one + "/checkpoint.ckpt");
  const nn::Checkpoint ck_two = nn::load_checkpoint(two + "/checkpoint.ckpt");
  ASSERT_EQ(ck_two.step, static_cast<uint64_t>(kSteps));
  EXPECT_EQ(ck_two.extras.at("processes"), "2");
  // Not bit-exact: one process sums each weight gradient over 64 examples at once; two sum 32
  // each and average the two sums, so the float roundings differ (~1e-7 relative), and Adam's
  // normalised steps carry such differences on (measured: 3e-8 after 30 steps). A real
  // difference (another batch) moves weights by lr-sized amounts, ~1e-3 per step.
  constexpr double kSumOrderTol = 1e-6;
  const double diff = max_abs_diff(weights(ck_two), weights(ck_one));
  EXPECT_LE(diff, kSumOrderTol);
  const double real = max_abs_diff(weights(nn::load_checkpoint(half + "/checkpoint.ckpt")),
                                   weights(ck_one));
  EXPECT_GT(real, 20 * kSumOrderTol) << "the tolerance would not tell runs apart";
  std::printf("max |w_2proc - w_1proc| = %.3g (tolerance %.3g); another batch: %.3g\n", diff,
              kSumOrderTol, real);

  // Every rank's parameters, bit for bit: each rank's CRC-32 of its parameters, recorded by rank
  // 0, against the CRC of the saved weights computed here.
  const std::vector<float> w = weights(ck_two);
  char mine[16];
  std::snprintf(mine, sizeof mine, "%08x", crc32(w.data(), w.size() * sizeof(float)));
  EXPECT_EQ(ck_two.extras.at("param_crc32"), std::string(mine) + "," + mine);

  // Rank 0 alone wrote the loss log: each step once.
  std::ifstream csv(two + "/loss.csv");
  std::string line;
  int64_t rows = 0;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) EXPECT_EQ(std::stoll(line), ++rows) << line;
  EXPECT_EQ(rows, kSteps);
}

TEST(Mpi, AStopSavesAndTheRunResumesToTheSameWeights) {
  SKIP_WITHOUT_MPIRUN();
  TempDir dir;
  constexpr int64_t kSteps = 400, kEvery = 100;
  const std::string plain = dir.path + "/plain", stopped = dir.path + "/stopped";
  CommandResult a = run(mpirun(2) + toy_train(plain, 64, kSteps, kEvery));
  ASSERT_EQ(a.status, 0) << a.output;

  // SIGUSR1 to mpirun reaches every rank as it is (Ctrl-C would reach them as SIGTERM with one
  // second to spare): they agree to stop after the same step, rank 0 saves, and the job exits
  // with a failure status.
  const std::string log = dir.path + "/log.txt";
  pid_t pid = spawn(mpirun(2) + toy_train(stopped, 64, kSteps, kEvery), log);
  ASSERT_TRUE(wait_for_file(stopped + "/checkpoint.ckpt", 60.0));
  ::kill(pid, SIGUSR1);
  std::optional<int> status = wait_at_most(pid, 30.0);
  ASSERT_TRUE(status.has_value()) << "mpirun did not stop within 30 s of SIGUSR1";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << slurp(log);
  const uint64_t at = nn::load_checkpoint(stopped + "/checkpoint.ckpt").step;
  ASSERT_LT(at, static_cast<uint64_t>(kSteps)) << "the run finished before it was interrupted";
  EXPECT_NE(slurp(log).find("interrupted after step " + std::to_string(at)), std::string::npos)
      << slurp(log);

  CommandResult b = run(mpirun(2) + toy_train(stopped, 64, kSteps, kEvery));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("resuming"), std::string::npos) << b.output;
  // The same number of processes and threads: bit-identical to the uninterrupted run.
  const std::vector<float> wa = weights(nn::load_checkpoint(plain + "/model.ckpt"));
  const std::vector<float> wb = weights(nn::load_checkpoint(stopped + "/model.ckpt"));
  ASSERT_EQ(wa.size(), wb.size());
  EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * sizeof(float)), 0);
}

TEST(Mpi, AKilledRankEndsTheJobAndTheCheckpointStaysValid) {
  SKIP_WITHOUT_MPIRUN();
  TempDir dir;
  const std::string out = dir.path + "/run", log = dir.path + "/log.txt";
  pid_t pid = spawn(mpirun(2) + toy_train(out, 64, 1000000), log);
  ASSERT_TRUE(wait_for_file(out + "/checkpoint.ckpt", 60.0)) << slurp(log);
  const pid_t rank1 = find_rank(pid, 1), rank0 = find_rank(pid, 0);
  ASSERT_GT(rank1, 0) << "rank 1 not found among mpirun's children";
  ASSERT_GT(rank0, 0);
  ::kill(rank1, SIGKILL);
  // mpirun notices the death and ends rank 0, which would otherwise wait in an all-reduce.
  constexpr double kStopSeconds = 30.0;  // Open MPI takes ~1-5 s (a grace period, then SIGKILL)
  std::optional<int> status = wait_at_most(pid, kStopSeconds);
  ASSERT_TRUE(status.has_value()) << "the job still ran " << kStopSeconds << " s after rank 1 died";
  EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << slurp(log);
  // mpirun may exit while the kernel is still tearing down the rank it killed: give it a moment.
  constexpr double kTeardownSeconds = 5.0;
  const auto gone_by =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(kTeardownSeconds);
  while (alive(rank0) && std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(alive(rank0)) << "rank 0 still runs " << kTeardownSeconds << " s after mpirun ended";
  const std::string said = slurp(log);
  EXPECT_NE(said.find("rank 1"), std::string::npos) << "no message names the dead rank:\n" << said;
  const nn::Checkpoint ck = nn::load_checkpoint(out + "/checkpoint.ckpt");  // throws if corrupt
  EXPECT_GT(ck.step, 0u);
}

TEST(Mpi, AGlobalBatchThatDoesNotSplitIsAClearError) {
  SKIP_WITHOUT_MPIRUN();
  TempDir dir;
  CommandResult r = run(mpirun(2) + toy_train(dir.path + "/run", 63, 5));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--batch 63 is the global batch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("multiple of 2"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mindiff
