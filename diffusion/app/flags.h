// Command-line flags for the front ends (train, sample): every setting is a named flag with a
// default and a line of help; `--help` lists them all. Accepted forms: `--name value`,
// `--name=value`, and for booleans `--name` / `--no-name`. An unknown flag, a missing value or a
// value of the wrong type is an Error naming the flag and the value.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/precision.h"

namespace mindiff {

class Flags {
 public:
  Flags(std::string program, std::string summary);

  void add_string(const std::string& name, const std::string& def, const std::string& help);
  void add_int(const std::string& name, int64_t def, const std::string& help);
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
  };
  const Flag& find(const std::string& name, Kind kind) const;
  void add(const std::string& name, Kind kind, const std::string& def, const std::string& help);
  void assign(const std::string& name, Flag& flag, const std::string& value);

  std::string program_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
};

// The value of a device flag such as --device: "cpu" or "cuda"; anything else is an Error
// naming the flag and the choices. (Whether a GPU is usable is cuda::require_available's call.)
Device parse_device(const std::string& flag, const std::string& value);
// The value of --precision for a run on `device`: fp32 anywhere, tf32 only with --device cuda (the
// CPU computes in FP32); anything else is an Error naming the flags.
Precision parse_run_precision(const std::string& value, Device device);

}  // namespace mindiff
