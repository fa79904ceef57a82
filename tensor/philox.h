// Philox-4x32-10, a counter-based random generator (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011). Output depends only on (key, counter), so element i of a draw gets
// the same number on the CPU and on the GPU, whatever the thread count or batch split.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/device.h"

namespace mindiff {

struct Philox4 {
  uint32_t v[4];
};

MD_HOST_DEVICE void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Ten rounds of the Philox bijection on `ctr`, keyed by `key` (the seed).
MD_HOST_DEVICE Philox4 philox4x32_10(Philox4 ctr, uint64_t key) {
  const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;   // round multipliers
  const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;   // Weyl key increments
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kM0, ctr.v[0], hi0, lo0);
    philox_mulhilo(kM1, ctr.v[2], hi1, lo1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

// Block `block` of stream (seed): four independent 32-bit words.
MD_HOST_DEVICE Philox4 philox_block(uint64_t seed, uint64_t block) {
  Philox4 ctr{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  return philox4x32_10(ctr, seed);
}

// 32 random bits -> float in (0, 1]: never 0, so log() in Box-Muller is finite.
MD_HOST_DEVICE float philox_uniform01(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

// Draws are addressed by (seed, first block, index i within the draw). A draw of n uniforms
// owns blocks [first, first + ceil(n/4)), a draw of n normals [first, first + ceil(n/2)), so
// consecutive draws from one Generator never share random words.

// Uniform in (0, 1] at index i: word i%4 of block first + i/4.
MD_HOST_DEVICE float philox_uniform_at(uint64_t seed, uint64_t first, uint64_t i) {
  Philox4 b = philox_block(seed, first + i / 4);
  return philox_uniform01(b.v[i % 4]);
}

// Standard normal at index i: Box-Muller on words (2(i%2), 2(i%2)+1) of block first + i/2,
// keeping the cosine branch, so each index owns its two uniforms.
MD_HOST_DEVICE float philox_normal_at(uint64_t seed, uint64_t first, uint64_t i) {
  Philox4 b = philox_block(seed, first + i / 2);
  int lane = static_cast<int>(i % 2) * 2;
  float u1 = philox_uniform01(b.v[lane]);
  float u2 = philox_uniform01(b.v[lane + 1]);
  const float kTwoPi = 6.28318530717958647692f;
  return sqrtf(-2.0f * logf(u1)) * cosf(kTwoPi * u2);
}

}  // namespace mindiff
