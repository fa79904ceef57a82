#include "nn/config_text.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace mindiff::nn {

namespace {

std::vector<int64_t> parse_int_list(const std::string& key, const std::string& text,
                                    const char* what) {
  std::vector<int64_t> out;
  if (text == "none") return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    MD_CHECK(used == item.size() && used > 0, what, ": '", key,
             "' expects integers separated by commas, got '", text, "'");
    out.push_back(v);
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_config_line(const std::string& text,
                                                     const std::string& kind, const char* what) {
  std::istringstream is(text);
  std::string word;
  MD_CHECK((is >> word) && word == kind, what, ": '", text, "' does not start with '", kind, "'");
  std::map<std::string, std::string> kv;
  while (is >> word) {
    size_t eq = word.find('=');
    MD_CHECK(eq != std::string::npos && eq > 0, what, ": expected key=value, got '", word, "'");
    std::string key = word.substr(0, eq);
    MD_CHECK(kv.emplace(key, word.substr(eq + 1)).second, what, ": '", key, "' given twice");
  }
  return kv;
}

bool parse_number(const std::string& text, double& out) {
  size_t used = 0;
  try {
    out = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size() && std::isfinite(out);
}

void config_check_range(int64_t value, int64_t lo, int64_t hi, const char* what, const char* key) {
  MD_CHECK(value >= lo && value <= hi, what, ": ", key, "=", value, " is outside [", lo, ", ", hi,
           "]");
}

void config_reject_unknown(const std::map<std::string, std::string>& kv,
                           const std::vector<std::string>& known, const char* what) {
  for (const auto& [key, value] : kv) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string names;
    for (const std::string& k : known) names += (names.empty() ? "" : ", ") + k;
    throw Error(std::string(what) + ": unknown key '" + key + "' (known: " + names + ")");
  }
}

std::string config_join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s.empty() ? "none" : s;
}

ConfigReader::ConfigReader(const std::string& text, const std::string& kind, const char* what)
    : kv_(parse_config_line(text, kind, what)), what_(what) {}

const std::string* ConfigReader::find(const std::string& key) {
  known_.push_back(key);
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

void ConfigReader::read(const std::string& key, std::vector<int64_t>& value) {
  if (const std::string* text = find(key)) value = parse_int_list(key, *text, what_);
}

void ConfigReader::read(const std::string& key, int64_t& value) {
  const std::string* text = find(key);
  if (!text) return;
  std::vector<int64_t> v = parse_int_list(key, *text, what_);
  MD_CHECK(v.size() == 1, what_, ": '", key, "' expects one integer, got '", *text, "'");
  value = v[0];
}

void ConfigReader::read(const std::string& key, float& value) {
  const std::string* text = find(key);
  if (!text) return;
  double v = 0;
  MD_CHECK(parse_number(*text, v), what_, ": '", key, "' expects a finite number, got '", *text,
           "'");
  value = static_cast<float>(v);
}

void ConfigReader::reject_unknown() const { config_reject_unknown(kv_, known_, what_); }

}  // namespace mindiff::nn
