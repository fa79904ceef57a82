// Settings declared once. A front end lists its settings in one table, an X-macro whose rows are
//
//   X(type, field, "flag", default, rule, "resume key", "help")
//
// and everything else about a setting is derived from its row (train_settings.h and
// sample_settings.h hold the tables):
//
//   the struct        one field per setting, initialised to its default (MINDIFF_SETTING_FIELD)
//   the flags         --flag with its help and default in --help (declare_settings)
//   the values        read back from the parsed flags into the fields (read_settings)
//   validation        each value against its rule, the message naming flag and value
//   the record        every setting as --flag=value: a run's settings.txt (settings_record)
//   the resume check  settings with a resume key are recorded in each checkpoint under that key
//                     and must match when a run is resumed ("" for settings free to change)
//
// Types are std::string, int64_t, double and bool. Rules (namespace rule: any, non_empty, finite,
// positive, non_negative, fraction, or a named Range) say what values are allowed; rules that
// relate two settings (min_lr <= lr) live in the front end's validate().
//
// A setting whose default is a rule of the code it feeds (a sampler's step size follows from its
// noise level) is a std::string whose default is "auto": the rule auto_positive or a named
// AutoCount says which numbers it may be besides, and auto_number() turns it into the number the
// code takes, 0 for auto. A number that would mean "auto" (--sigma 0) is refused, so that every
// value given on the command line is one the code runs with.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "diffusion/app/flags.h"
#include "nn/config_text.h"
#include "tensor/error.h"

namespace mindiff::rule {

struct Any {};
struct NonEmpty {};     // strings
struct Finite {};       // numbers
struct Positive {};     // > 0 (and finite)
struct NonNegative {};  // >= 0 (and finite)
struct Fraction {};     // in [0, 1)
struct Range {          // in [lo, hi]
  double lo, hi;
};
struct AutoPositive {};  // strings: "auto", or a number > 0
struct AutoCount {       // strings: "auto", or an integer in [lo, hi]
  double lo, hi;
};
struct OneOf {  // strings: one of the words of a space-separated list
  const char* words;
};
// The names a table uses (a Range, an AutoCount or a OneOf is a named constant beside the table:
// a macro argument cannot hold the comma of Range{lo, hi}).
constexpr Any any{};
constexpr NonEmpty non_empty{};
constexpr Finite finite{};
constexpr Positive positive{};
constexpr NonNegative non_negative{};
constexpr Fraction fraction{};
constexpr AutoPositive auto_positive{};

}  // namespace mindiff::rule

namespace mindiff::settings {

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string text(const std::string& v) { return v; }
inline std::string text(bool v) { return v ? "true" : "false"; }
inline std::string text(int64_t v) { return std::to_string(v); }
// The shortest text that reads back as the same double ("0.1", "2e-05"): a resumed run compares
// exact values, and settings.txt stays readable.
inline std::string text(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// ---- rules ----
inline void check(const char*, const std::string&, rule::Any) {}
inline void check(const char*, bool, rule::Any) {}
inline void check(const char* flag, const std::string& v, rule::NonEmpty) {
  MD_CHECK(!v.empty(), "--", flag, " must not be empty");
}
template <class T>
void check(const char*, T, rule::Any) {}
template <class T>
void check(const char* flag, T v, rule::Finite) {
  MD_CHECK(std::isfinite(static_cast<double>(v)), "--", flag, " must be finite, got ", v);
}
template <class T>
void check(const char* flag, T v, rule::Positive) {
  MD_CHECK(v > 0 && std::isfinite(static_cast<double>(v)), "--", flag, " must be positive, got ", v);
}
template <class T>
void check(const char* flag, T v, rule::NonNegative) {
  MD_CHECK(v >= 0 && std::isfinite(static_cast<double>(v)), "--", flag, " must be >= 0, got ", v);
}
template <class T>
void check(const char* flag, T v, rule::Fraction) {
  MD_CHECK(v >= 0 && v < 1, "--", flag, " must be in [0, 1), got ", v);
}
// A bound of a range: whole numbers as integers ("1000000", not "1e+06").
inline std::string bound_text(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? std::to_string(static_cast<int64_t>(v))
                                                    : text(v);
}
template <class T>
void check(const char* flag, T v, rule::Range r) {
  MD_CHECK(v >= r.lo && v <= r.hi, "--", flag, " ", v, " is out of range: expected from ",
           bound_text(r.lo), " to ", bound_text(r.hi));
}

inline constexpr const char* kAuto = "auto";

inline void check(const char* flag, const std::string& v, rule::AutoPositive) {
  double x = 0;
  MD_CHECK(v == kAuto || (nn::parse_number(v, x) && x > 0), "--", flag,
           " must be a number > 0 or auto (the default rule), got ", v);
}
inline void check(const char* flag, const std::string& v, rule::AutoCount r) {
  double x = 0;
  MD_CHECK(v == kAuto || (nn::parse_number(v, x) && x == std::floor(x) &&
                          x >= r.lo && x <= r.hi),
           "--", flag, " must be an integer from ", bound_text(r.lo), " to ", bound_text(r.hi),
           " or auto (the default rule), got ", v);
}
inline void check(const char* flag, const std::string& v, rule::OneOf r) {
  const std::string words = std::string(" ") + r.words + " ";
  std::string listed = r.words;  // "a b c" -> "a, b, c"
  for (size_t at = listed.find(' '); at != std::string::npos; at = listed.find(' ', at + 2))
    listed.replace(at, 1, ", ");
  MD_CHECK(!v.empty() && v.find(' ') == std::string::npos &&
               words.find(" " + v + " ") != std::string::npos,
           "--", flag, " must be one of ", listed, ", got ", v);
}

// The number an auto setting (checked by its rule) stands for: 0 for "auto".
inline double auto_number(const std::string& v) {
  double x = 0;
  return v == kAuto || !nn::parse_number(v, x) ? 0.0 : x;
}

// ---- flags ----
inline void declare(Flags& f, const char* flag, const std::string& def, const char* help) {
  f.add_string(flag, def, help);
}
inline void declare(Flags& f, const char* flag, int64_t def, const char* help) {
  f.add_int(flag, def, help);
}
inline void declare(Flags& f, const char* flag, double def, const char* help) {
  f.add_float(flag, def, help);
}
inline void declare(Flags& f, const char* flag, bool def, const char* help) {
  f.add_bool(flag, def, help);
}
inline void read(const Flags& f, const char* flag, std::string& v) { v = f.get_string(flag); }
inline void read(const Flags& f, const char* flag, int64_t& v) { v = f.get_int(flag); }
inline void read(const Flags& f, const char* flag, double& v) { v = f.get_float(flag); }
inline void read(const Flags& f, const char* flag, bool& v) { v = f.get_bool(flag); }

}  // namespace mindiff::settings

// Row expansions, for the tables' users (train_settings.cpp, sample_settings.cpp).
#define MINDIFF_SETTING_FIELD(type, field, flag, def, rule_, key, help) type field = def;
#define MINDIFF_SETTING_DECLARE(type, field, flag, def, rule_, key, help) \
  ::mindiff::settings::declare(flags, flag, type(def), help);
#define MINDIFF_SETTING_READ(type, field, flag, def, rule_, key, help) \
  ::mindiff::settings::read(flags, flag, s.field);                     \
  ::mindiff::settings::check(flag, s.field, rule_);
#define MINDIFF_SETTING_RECORD(type, field, flag, def, rule_, key, help) \
  record += std::string(record.empty() ? "--" : " --") + flag + "=" +   \
            ::mindiff::settings::text(s.field);
#define MINDIFF_SETTING_IDENTITY(type, field, flag, def, rule_, key, help) \
  if (*key) identity[key] = ::mindiff::settings::text(s.field);
