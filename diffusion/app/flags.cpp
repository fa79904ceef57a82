#include "diffusion/app/flags.h"

#include <cmath>
#include <sstream>

#include "nn/config_text.h"
#include "tensor/error.h"

namespace mindiff {

namespace {

bool parse_int(const std::string& s, int64_t& out) {
  try {
    size_t used = 0;
    out = std::stoll(s, &used);
    return used == s.size();
  } catch (...) {
    return false;
  }
}

bool parse_float(const std::string& s, double& out) { return nn::parse_number(s, out); }

std::string format_float(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Flags::add(const std::string& name, Kind kind, const std::string& def, const std::string& help) {
  MD_CHECK(!flags_.count(name), "Flags: --", name, " declared twice");
  flags_[name] = Flag{kind, def, def, help, false};
  order_.push_back(name);
}

void Flags::add_string(const std::string& name, const std::string& def, const std::string& help) {
  add(name, Kind::String, def, help);
}
void Flags::add_int(const std::string& name, int64_t def, const std::string& help) {
  add(name, Kind::Int, std::to_string(def), help);
}
void Flags::add_float(const std::string& name, double def, const std::string& help) {
  add(name, Kind::Float, format_float(def), help);
}
void Flags::add_bool(const std::string& name, bool def, const std::string& help) {
  add(name, Kind::Bool, def ? "true" : "false", help);
}

void Flags::assign(const std::string& name, Flag& flag, const std::string& value) {
  int64_t i = 0;
  double d = 0;
  switch (flag.kind) {
    case Kind::Int:
      MD_CHECK(parse_int(value, i), "--", name, " expects an integer, got '", value, "'");
      break;
    case Kind::Float:
      MD_CHECK(parse_float(value, d), "--", name, " expects a number, got '", value,
               "'");
      break;
    case Kind::Bool:
      MD_CHECK(value == "true" || value == "false", "--", name,
               " expects true or false, got '", value, "'");
      break;
    case Kind::String:
      break;
  }
  flag.value = value;
  flag.set = true;
}

bool Flags::parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return false;
    MD_CHECK(arg.size() > 2 && arg.compare(0, 2, "--") == 0, "unexpected argument '",
             arg, "' (flags start with --; see --help)");
    std::string name = arg.substr(2), value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end() && !has_value && name.compare(0, 3, "no-") == 0) {
      auto neg = flags_.find(name.substr(3));
      if (neg != flags_.end() && neg->second.kind == Kind::Bool) {
        assign(neg->first, neg->second, "false");
        continue;
      }
    }
    MD_CHECK(it != flags_.end(), "unknown flag --", name, " (see --help)");
    Flag& flag = it->second;
    if (!has_value) {
      if (flag.kind == Kind::Bool) {
        value = "true";
      } else {
        MD_CHECK(i + 1 < argc, "--", name, " needs a value");
        value = argv[++i];
      }
    }
    assign(name, flag, value);
  }
  return true;
}

const Flags::Flag& Flags::find(const std::string& name, Kind kind) const {
  auto it = flags_.find(name);
  MD_CHECK(it != flags_.end() && it->second.kind == kind, "Flags: no flag --", name,
           " of the requested type");
  return it->second;
}

std::string Flags::get_string(const std::string& name) const { return find(name, Kind::String).value; }
int64_t Flags::get_int(const std::string& name) const {
  int64_t v = 0;
  parse_int(find(name, Kind::Int).value, v);
  return v;
}
double Flags::get_float(const std::string& name) const {
  double v = 0;
  parse_float(find(name, Kind::Float).value, v);
  return v;
}
bool Flags::get_bool(const std::string& name) const { return find(name, Kind::Bool).value == "true"; }
bool Flags::was_set(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.set;
}

std::vector<std::string> Flags::given() const {
  std::vector<std::string> names;
  for (const std::string& name : order_)
    if (flags_.at(name).set) names.push_back(name);
  return names;
}

std::string Flags::usage() const {
  std::ostringstream os;
  os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    std::string head = "  --" + name;
    if (f.kind == Kind::Bool) head += " / --no-" + name;
    os << head << "\n      " << f.help << " (default: " << (f.def.empty() ? "\"\"" : f.def)
       << ")\n";
  }
  return os.str();
}

Device parse_device(const std::string& flag, const std::string& value) {
  if (value == "cpu") return Device::CPU;
  if (value == "cuda") return Device::CUDA;
  throw Error("--" + flag + " " + value + ": unknown device (cpu or cuda)");
}

Precision parse_run_precision(const std::string& value, Device device) {
  const Precision p = parse_precision("precision", value);
  MD_CHECK(p == Precision::FP32 || device == Device::CUDA, "--precision ", value,
           " applies to --device cuda (the CPU computes in fp32)");
  return p;
}

std::string Flags::summary_line() const {
  std::string s;
  for (const std::string& name : order_) s += (s.empty() ? "--" : " --") + name + "=" + flags_.at(name).value;
  return s;
}

}  // namespace mindiff
