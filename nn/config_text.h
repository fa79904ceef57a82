// Parsing of the one-line "kind key=value ..." model descriptions that checkpoints store.
//
// A config's parse() reads each of its keys into a struct that starts at the defaults, so a key
// the text leaves out keeps its default (a checkpoint written before a key existed still loads),
// and a key nobody asked for is refused by name (a typo, or a checkpoint from a newer build):
//   ConfigReader r(text, "unet", "UNetConfig");
//   UNetConfig c;
//   r.read("base", c.base);
//   ...
//   r.reject_unknown();
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mindiff::nn {

// Bounds on the sizes a config line may ask for. The line comes from a checkpoint (any file a
// user is handed) or from --config, and the network is built from it before its weights are
// read, so every size is checked against these first: a wrapped product could otherwise allocate
// too little, and an absurd but representable one hang or exhaust the machine. Each bound is far
// above any network mindiff trains (the cifar preset has 256 channels at 32 x 32 pixels).
constexpr int64_t kMaxConfigWidth = 1 << 14;      // channels or units of one layer (16384: one
                                                  // 16384 x 16384 weight is 1 GiB)
constexpr int64_t kMaxConfigImageSize = 1 << 12;  // pixels per side
constexpr int64_t kMaxConfigLevels = 16;          // U-Net levels, attention resolutions
constexpr int64_t kMaxConfigBlocks = 16;          // U-Net ResBlocks per level
constexpr int64_t kMaxConfigLayers = 64;          // hidden layers of an MLP
constexpr int64_t kMaxConfigClasses = 1 << 20;    // class labels (one embedding row each)

// An Error naming `what`, the key and the value when value is outside [lo, hi].
void config_check_range(int64_t value, int64_t lo, int64_t hi, const char* what, const char* key);

// Splits "kind k1=v1 k2=v2" into its pairs after checking the kind; errors name `what`, the key
// and the text.
std::map<std::string, std::string> parse_config_line(const std::string& text,
                                                     const std::string& kind, const char* what);
// The whole of `text` as a finite number (no trailing characters); false otherwise.
bool parse_number(const std::string& text, double& out);
// Fails naming the first key of kv that is not in `known` (and the known ones).
void config_reject_unknown(const std::map<std::string, std::string>& kv,
                           const std::vector<std::string>& known, const char* what);
std::string config_join(const std::vector<int64_t>& v);  // "1,2,2", or "none" when empty

class ConfigReader {
 public:
  ConfigReader(const std::string& text, const std::string& kind, const char* what);
  // value = the text's value of key, when the text has the key; otherwise value is left as it
  // is. A malformed value fails, naming `what`, the key and the value.
  void read(const std::string& key, int64_t& value);
  void read(const std::string& key, std::vector<int64_t>& value);  // "1,2,2" or "none"
  void read(const std::string& key, float& value);
  // Fails naming the first key of the text that no read() asked for.
  void reject_unknown() const;

 private:
  // The text's value of key (and the key recorded as known), or nullptr when it is missing.
  const std::string* find(const std::string& key);

  std::map<std::string, std::string> kv_;
  std::vector<std::string> known_;
  const char* what_;
};

}  // namespace mindiff::nn
