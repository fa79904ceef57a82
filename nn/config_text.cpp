#include "nn/config_text.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace mindiff::nn {

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

std::vector<int64_t> config_int_list(const std::map<std::string, std::string>& kv,
                                     const std::string& key, const char* what) {
  auto it = kv.find(key);
  MD_CHECK(it != kv.end(), what, ": missing '", key, "'");
  std::vector<int64_t> out;
  if (it->second == "none") return out;
  std::stringstream ss(it->second);
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
             "' expects integers separated by commas, got '", it->second, "'");
    out.push_back(v);
  }
  return out;
}

int64_t config_int(const std::map<std::string, std::string>& kv, const std::string& key,
                   const char* what) {
  std::vector<int64_t> v = config_int_list(kv, key, what);
  MD_CHECK(v.size() == 1, what, ": '", key, "' expects one integer, got '", kv.at(key), "'");
  return v[0];
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

float config_float(const std::map<std::string, std::string>& kv, const std::string& key,
                   const char* what) {
  auto it = kv.find(key);
  MD_CHECK(it != kv.end(), what, ": missing '", key, "'");
  double v = 0;
  MD_CHECK(parse_number(it->second, v), what, ": '", key, "' expects a number, got '", it->second,
           "'");
  return static_cast<float>(v);
}

void config_check_range(int64_t value, int64_t lo, int64_t hi, const char* what, const char* key) {
  MD_CHECK(value >= lo && value <= hi, what, ": ", key, "=", value, " is outside [", lo, ", ", hi,
           "]");
}

void config_reject_unknown(const std::map<std::string, std::string>& kv,
                           const std::vector<std::string>& known, const char* what) {
  for (const auto& [key, value] : kv)
    MD_CHECK(std::find(known.begin(), known.end(), key) != known.end(), what, ": unknown key '",
             key, "'");
}

std::string config_join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s.empty() ? "none" : s;
}

}  // namespace mindiff::nn
