// Parsing of the one-line "kind key=value ..." model descriptions that checkpoints store.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace mindiff::nn {

// Splits "kind k1=v1 k2=v2" into its pairs after checking the kind; errors name `what`, the key
// and the text (unknown keys are rejected by the caller, which knows its keys).
std::map<std::string, std::string> parse_config_line(const std::string& text,
                                                     const std::string& kind, const char* what);
int64_t config_int(const std::map<std::string, std::string>& kv, const std::string& key,
                   const char* what);
std::vector<int64_t> config_int_list(const std::map<std::string, std::string>& kv,
                                     const std::string& key, const char* what);
float config_float(const std::map<std::string, std::string>& kv, const std::string& key,
                   const char* what);
void config_reject_unknown(const std::map<std::string, std::string>& kv,
                           const std::vector<std::string>& known, const char* what);
std::string config_join(const std::vector<int64_t>& v);  // "1,2,2", or "none" when empty

}  // namespace mindiff::nn
