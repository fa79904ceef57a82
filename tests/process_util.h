// Running the front ends as a user runs them, for the tests that start ./train and ./sample:
// a temporary folder removed at the end, and a command line's exit status and output.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/temp_dir.h"

namespace mindiff::test {

// The path of a front end the tests run ("train", "sample"): ./NAME, or NAME in the folder
// $MINDIFF_BIN names (make test-sanitize runs its sanitized binaries: MINDIFF_BIN=build-sanitize/).
inline std::string bin(const std::string& name) {
  const char* dir = std::getenv("MINDIFF_BIN");
  return std::string(dir && *dir ? dir : "./") + name;
}

// The whole content of a text file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int status;          // exit status, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and waits for it.
inline CommandResult run_command(const std::string& command) {
  TempDir tmp("command");
  const std::string out = tmp.path + "/out.txt";
  const int raw = std::system((command + " > " + out + " 2>&1").c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(out)};
}

// Starts a shell command line in the background, its output discarded; returns its pid (the
// command itself: the shell execs it, so a signal sent to the pid reaches it).
inline pid_t spawn(const std::string& command) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command + " > /dev/null 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

// Waits until `path` exists (polling), up to `seconds`.
inline bool wait_for_file(const std::string& path, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// A toy run small enough for tests: a tiny MLP on gmm8, one thread (bit-exact), no previews,
// a checkpoint every `every` steps.
inline std::string toy_train(const std::string& out, int64_t steps, int64_t every = 10) {
  return bin("train") + " --data gmm8 --config \"mlp hidden=32 layers=1\" --schedule vp " +
         "--batch 64 --steps " + std::to_string(steps) + " --warmup 10 --lr 1e-3 --threads 1 " +
         "--checkpoint-every " + std::to_string(every) +
         " --sample-every 0 --log-every 1000 --out " + out;
}

}  // namespace mindiff::test
