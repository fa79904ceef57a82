// Checkpoints (nn/checkpoint.h) as `sample --checkpoint` and `--classifier` read them: the file,
// then the network its config line describes, with the saved weights (and EMA weights) loaded
// into it. Each input is tried twice: as it is, and with the header's length and the CRC-32
// trailer made to match its bytes, so that the section parser behind the checksum is reached.
#include <cstring>
#include <memory>

#include "data/crc32.h"
#include "diffusion/app/classifier.h"
#include "diffusion/network.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace mindiff;

// docs/checkpoint.md: the u64 file length at byte 16 of the 24-byte header; the last 4 bytes
// are the CRC-32 of every byte before them.
constexpr size_t kLengthAt = 16, kHeaderBytes = 24, kCrcBytes = 4;

std::vector<uint8_t> with_valid_checksum(std::vector<uint8_t> b) {
  if (b.size() < kHeaderBytes + kCrcBytes) return b;
  const uint64_t length = b.size();
  std::memcpy(b.data() + kLengthAt, &length, sizeof length);
  const uint32_t crc = crc32(b.data(), b.size() - kCrcBytes);
  std::memcpy(b.data() + b.size() - kCrcBytes, &crc, sizeof crc);
  return b;
}

// The parameters of the network a config line describes. The last one built is kept: a mutated
// input mostly keeps its seed's config line, and building a network (its random initialisation)
// costs far more than the parsing under test. Building itself is fuzzed by fuzz_config.
const std::vector<std::pair<std::string, Tensor>>& network_for(const std::string& config) {
  static std::string last;
  static std::shared_ptr<void> network;
  static std::vector<std::pair<std::string, Tensor>> named;
  if (network && config == last) return named;
  network.reset();
  named.clear();
  Generator gen(0);
  if (config.rfind("classifier", 0) == 0) {
    auto net = std::make_shared<diffusion::Classifier>(diffusion::ClassifierConfig::parse(config), gen);
    named = net->named_parameters();
    network = net;
  } else {
    auto net = diffusion::DiffusionNet::build(config, gen);
    named = net->module().named_parameters();
    network = net;
  }
  last = config;
  return named;
}

void load_network(const nn::Checkpoint& ck) {
  const auto& named = network_for(ck.model_config);
  nn::load_into(named, ck.model, "fuzz");
  if (!ck.ema.tensors.empty()) nn::load_into(named, ck.ema.tensors, "fuzz");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes = fuzz::as_bytes(data, size);
  for (const std::vector<uint8_t>& b : {bytes, with_valid_checksum(bytes)})
    fuzz::expect_clean([&] { load_network(nn::load_checkpoint_bytes(b, "fuzz")); });
  return 0;
}
