// Running the front ends as a user runs them, for the tests that start ./train and ./sample:
// a temporary folder removed at the end, and a command line's exit status and output.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace mindiff::test
