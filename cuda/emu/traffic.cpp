// The bank model of traffic.h; the logging that feeds it is in runtime.cpp.
#include "cuda/emu/traffic.h"

#include <algorithm>

#include "tensor/error.h"

namespace mindiff::cuda::emu {

namespace {
constexpr int kBanks = 32;
constexpr uint32_t kWordBytes = 4;
constexpr uint32_t kMaxAccessBytes = 16;  // the widest shared access there is
}  // namespace

Wavefronts count_wavefronts(const LaneAccess* lanes, int n) {
  MD_CHECK(n >= 0 && n <= 32, "count_wavefronts: ", n, " lanes (a warp has at most 32)");
  uint32_t words[32 * kMaxAccessBytes / kWordBytes];
  int m = 0;
  for (int i = 0; i < n; ++i) {
    MD_CHECK(lanes[i].bytes >= 1 && lanes[i].bytes <= kMaxAccessBytes,
             "count_wavefronts: a lane accesses ", lanes[i].bytes, " bytes at once");
    const uint32_t first = lanes[i].offset / kWordBytes;
    const uint32_t last = (lanes[i].offset + lanes[i].bytes - 1) / kWordBytes;
    for (uint32_t w = first; w <= last; ++w) words[m++] = w;
  }
  std::sort(words, words + m);
  const int distinct = static_cast<int>(std::unique(words, words + m) - words);
  int per_bank[kBanks] = {};
  for (int i = 0; i < distinct; ++i) ++per_bank[words[i] % kBanks];
  return {*std::max_element(per_bank, per_bank + kBanks), (distinct + kBanks - 1) / kBanks};
}

}  // namespace mindiff::cuda::emu
