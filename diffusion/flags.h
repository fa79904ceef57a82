// Command-line flags for the front ends (train, sample): every setting is a named flag with a
// default and a line of help; `--help` lists them all. Accepted forms: `--name value`,
// `--name=value`, and for booleans `--name` / `--no-name`. An unknown flag, a missing value, a
// value of the wrong type or an integer outside the flag's range is an Error naming the flag and
// the value.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tensor/device.h"

namespace mindiff {

// The values an integer flag accepts, both ends included. Flags whose value sizes memory, a
// thread pool or a loop, or is narrowed to int, declare a range, so that a value like
// --threads 100000 or --steps 4294967297 is refused by name instead of crashing or wrapping.
struct IntRange {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
};

// Ranges that both front ends use.
// --threads: 0 means all cores. More OpenMP threads than a machine has cores only slow a run
// down; a pool of 65536 crashed libgomp (SIGSEGV), and 1024 is more than any machine here has.
constexpr IntRange kThreadsRange{0, 1024};
// Counts that end up in an int (sampler steps, preview steps): a larger value would wrap.
constexpr IntRange kIntCountRange{0, std::numeric_limits<int>::max()};

class Flags {
 public:
  Flags(std::string program, std::string summary);

  void add_string(const std::string& name, const std::string& def, const std::string& help);
  void add_int(const std::string& name, int64_t def, const std::string& help, IntRange range = {});
  void add_float(const std::string& name, double def, const std::string& help);
  void add_bool(const std::string& name, bool def, const std::string& help);

  // Parses argv[1..]; returns false when --help was given (usage() is then what to print).
  bool parse(int argc, const char* const* argv);

  std::string get_string(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  bool was_set(const std::string& name) const;  // given on the command line
  std::vector<std::string> given() const;        // the flags given, in declaration order

  std::string usage() const;
  // "--name=value" for every flag, in declaration order: what a run folder records.
  std::string summary_line() const;

 private:
  enum class Kind { String, Int, Float, Bool };
  struct Flag {
    Kind kind;
    std::string value;  // current value, as text
    std::string def;
    std::string help;
    bool set = false;
    IntRange range;  // Kind::Int only
  };
  const Flag& find(const std::string& name, Kind kind) const;
  Flag& add(const std::string& name, Kind kind, const std::string& def, const std::string& help);
  void assign(const std::string& name, Flag& flag, const std::string& value);

  std::string program_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
};

// The value of a device flag such as --device: "cpu" or "cuda"; anything else is an Error
// naming the flag and the choices. (Whether a GPU is usable is cuda::require_available's call.)
Device parse_device(const std::string& flag, const std::string& value);

}  // namespace mindiff
