// What every libFuzzer harness (tests/fuzz/fuzz_<format>.cpp) shares.
//
// A harness feeds the fuzzer's bytes to one reader the way the front ends do. A mindiff::Error is
// the expected outcome for bad input: the reader named the problem. Anything else is a finding
// that libFuzzer reports and saves: another exception (it escapes LLVMFuzzerTestOneInput and
// aborts), a crash, an AddressSanitizer or UndefinedBehaviorSanitizer report, a leak, an input
// that runs past -timeout (10 s in tests/fuzz/run.sh) or an allocation past -malloc_limit_mb
// (2 GB).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace mindiff::fuzz {

// Every harness is linked with harness_init.cpp, which sets it up before the first input.

// Tensors may hold at most this much in a harness: a network built from a fuzzed config line is
// refused with an Error past it (the path a too-large network takes anywhere), long before
// libFuzzer's 2 GB limits. Building, its random initialisation above all, is what costs time,
// while what is under test is parsing, size arithmetic and the refusal of what does not fit:
// 1 MB holds the network of every seed (the largest, the default MLP, takes 0.45 MB) and keeps
// an input to milliseconds.
constexpr size_t kHarnessTensorBytes = size_t{1} << 20;

// Runs `fn`; a mindiff::Error is the expected outcome and is dropped.
template <class Fn>
void expect_clean(Fn fn) {
  try {
    fn();
  } catch (const Error&) {
  }
}

inline std::vector<uint8_t> as_bytes(const uint8_t* data, size_t size) {
  return std::vector<uint8_t>(data, data + size);
}

}  // namespace mindiff::fuzz
