// exp, sigmoid and SiLU for the CPU element loops, written without branches or library calls so
// that the compiler vectorises the loops that call them (8 floats per AVX2 instruction); glibc's
// expf is a scalar call per element, and was a fifth of the U-Net's forward time.
//
// exp(x) = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]
// (Cody-Waite: ln 2 split in a high part exact in float and a low correction, so n ln2_hi is
// exact). e^r by its Taylor polynomial to degree 7, whose remainder |r|^8/8! < 5e-9 is below half
// an ulp; 2^n is built in the exponent bits. Measured error against double-precision exp: at most
// 2 ulp over [-87, 88.7] (tests/test_vector_math.cpp). Above ln(FLT_MAX) the result is +inf, as
// expf's; below ln(FLT_MIN) ~ -87.34 it is 0 where expf would return a denormal (< 1.2e-38, which
// no caller here can tell from 0). A NaN gives NaN.
//
// The CUDA kernels keep the device's own expf (cuda/elementwise.cu); the two agree to a few ulp.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

namespace mindiff {

inline float exp_vec(float x) {
  constexpr float kMin = -87.33654f;  // ln(smallest normal float): below, e^x is a denormal
  constexpr float kMax = 88.72283f;   // ln(largest float): above, e^x overflows
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;      // 12 significant bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = 1.428606765330187045e-6f;  // ln 2 - kLn2Hi
  constexpr float kRound = 12582912.0f;               // 1.5 * 2^23: adding it rounds to an integer
  const float input = x;
  x = x < kMin ? kMin : x;  // plain selects: the vectoriser turns each into a max/min or blend
  x = x > kMax ? kMax : x;
  const float n = (x * kLog2e + kRound) - kRound;     // round(x / ln 2), ties to even; in [-126, 128]
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  // Horner form of 1 + r + r^2/2! + ... + r^7/7!.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n from the exponent bits; 2^128 is not a float, so n = 128 is 2^127 * 2. The integer nb
  // is read from the bits of nb + 1.5 * 2^23, whose low mantissa bits hold it, rather than
  // converted: as cheap, and defined for a NaN x (whose NaN p then makes the result NaN), where
  // a conversion to int is not.
  const float top = n > 127.0f ? 2.0f : 1.0f;
  const float nb = n > 127.0f ? 127.0f : n;
  const float shifted = nb + kRound;
  uint32_t low;
  std::memcpy(&low, &shifted, sizeof low);
  constexpr uint32_t kRoundBits = 0x4B400000u;  // the bits of kRound
  const uint32_t bits = (low - kRoundBits + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float result = p * scale * top;
  result = input > kMax ? std::numeric_limits<float>::infinity() : result;
  result = input < kMin ? 0.0f : result;
  return result;
}

// sigmoid(x) = 1 / (1 + e^-x): for x < -88.7, e^-x = inf and the quotient is exactly 0, so one
// formula serves both signs.
inline float sigmoid_vec(float x) { return 1.0f / (1.0f + exp_vec(-x)); }

// silu(x) = x sigmoid(x);  silu'(x) = s (1 + x (1 - s)), s = sigmoid(x).
inline float silu_vec(float x) { return x * sigmoid_vec(x); }
inline float silu_grad_vec(float x) {
  const float s = sigmoid_vec(x);
  return s * (1.0f + x * (1.0f - s));
}

}  // namespace mindiff
