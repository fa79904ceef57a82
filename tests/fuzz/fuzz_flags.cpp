// The command-line flag parser (diffusion/app/flags.h) over a table with every kind of flag. The
// input is the command line, one argument per line. (The settings tables' value rules are plain
// comparisons on what this parser returns; tests/test_frontend_limits.cpp covers them.)
#include "diffusion/app/flags.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mindiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"fuzz"};
  std::string arg;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(arg);
      arg.clear();
    } else {
      arg += static_cast<char>(data[i]);
    }
  }
  args.push_back(arg);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());

  Flags flags("fuzz", "flags of every kind");
  flags.add_string("out", "runs/x", "a string");
  flags.add_int("steps", 10, "an integer");
  flags.add_int("threads", 0, "another integer");
  flags.add_float("lr", 1e-3, "a number");
  flags.add_bool("hflip", false, "a boolean");
  flags.add_string("device", "cpu", "a device");
  fuzz::expect_clean([&] {
    if (!flags.parse(static_cast<int>(argv.size()), argv.data())) return;  // --help
    flags.get_string("out");
    flags.get_int("steps");
    flags.get_int("threads");
    flags.get_float("lr");
    flags.get_bool("hflip");
    flags.given();
    flags.summary_line();
    parse_device("device", flags.get_string("device"));
  });
  flags.usage();
  return 0;
}
