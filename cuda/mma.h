// Tensor cores in TF32: the one instruction mindiff uses, mma.sync.aligned.m16n8k8.row.col
// .f32.tf32.tf32.f32, for nvcc (inline PTX, sm_80 and later) and for the emulator (a warp-wide
// rendezvous that computes the same tile on the CPU), plus the rounding to TF32 that feeds it.
//
// TF32 is FP32 with the mantissa cut from 23 to 10 bits (same 8-bit exponent, so the same range):
// about three decimal digits. The tensor core multiplies TF32 inputs and accumulates in FP32.
//
// One instruction: the 32 lanes of a warp together compute D = A B + C for a 16 x 8 x 8 tile,
// A [16, 8] (row-major), B [8, 8] (column-major), C and D [16, 8], each lane holding a fixed
// piece of every operand in registers (PTX ISA, "Matrix Fragments for mma.m16n8k8", .tf32):
// with g = lane / 4 (the lane's group) and t = lane % 4 (its place in the group),
//   a[r], r = 0..3   A[g + 8 (r % 2)][t + 4 (r / 2)]
//   b[r], r = 0..1   B[t + 4 r][g]
//   c[r], d[r]       C[g + 8 (r / 2)][2 t + r % 2]
// The functions below name these coordinates once; kernels load fragments with them, the
// emulator reassembles the tile with them, and tests check them.
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda/kernel.h"
#include "tensor/device.h"

namespace mindiff::cuda {

constexpr int kMmaM = 16, kMmaN = 8, kMmaK = 8;  // the tile of one instruction

MD_HOST_DEVICE int mma_a_row(int lane, int r) { return lane / 4 + 8 * (r % 2); }
MD_HOST_DEVICE int mma_a_col(int lane, int r) { return lane % 4 + 4 * (r / 2); }
MD_HOST_DEVICE int mma_b_row(int lane, int r) { return lane % 4 + 4 * r; }
MD_HOST_DEVICE int mma_b_col(int lane) { return lane / 4; }
MD_HOST_DEVICE int mma_c_row(int lane, int r) { return lane / 4 + 8 * (r / 2); }
MD_HOST_DEVICE int mma_c_col(int lane, int r) { return 2 * (lane % 4) + r % 2; }

// x rounded to the nearest TF32 value, ties away from zero (PTX cvt.rna.tf32.f32): the result is
// an FP32 number whose 13 low mantissa bits are zero. Infinities stay; NaNs stay NaNs.
MD_HOST_DEVICE float round_to_tf32(float x) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return __uint_as_float(r & 0xffffe000u);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) {  // infinity or NaN: no rounding, keep a NaN a NaN
    if (u & 0x007fffffu) u |= 0x00400000u;
  } else {
    u += 0x1000u;  // half a TF32 unit in the last place, added to the magnitude: ties go away
  }                // from zero, and a carry into the exponent is the correct rounding up
  u &= 0xffffe000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
#endif
}

// The arithmetic of one instruction as the emulator (and the CPU model in the tests) does it:
// inputs keep only their TF32 bits (the hardware ignores the 13 low ones), each product of two
// TF32 numbers is exact in FP32 (11 x 11 significant bits), and the 8 products are added to C
// one at a time in k order, each addition rounded to FP32. Real tensor cores add the products in
// an order and with internal precision NVIDIA does not specify, so on a GPU the result agrees
// with this model to FP32 rounding of a sum of 8 terms, not bit for bit.
MD_HOST_DEVICE float tf32_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(__float_as_uint(x) & 0xffffe000u);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u &= 0xffffe000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
#endif
}

#if defined(__CUDACC__)

// d = A B + c for the warp's 16 x 8 x 8 tile; a and b hold TF32 values (round_to_tf32).
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const float (&a)[4],
                                                 const float (&b)[2], const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])),
        "r"(__float_as_uint(a[3])), "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])),
        "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

#else  // the emulator

// Every lane of the warp deposits its fragments (five 64-bit rendezvous: a0 a1, a2 a3, b0 b1,
// c0 c1, c2 c3), reads everyone's, rebuilds A, B and C, and computes its own four elements of D.
// Like the instruction, it needs all 32 lanes: a partial warp is an error.
inline void mma_m16n8k8_tf32(float (&d)[4], const float (&a)[4], const float (&b)[2],
                             const float (&c)[4]) {
  auto pack = [](float lo, float hi) {
    return emu::to_bits(lo) | (emu::to_bits(hi) << 32);
  };
  auto lo = [](uint64_t v) { return emu::from_bits<float>(v & 0xffffffffu); };
  auto hi = [](uint64_t v) { return emu::from_bits<float>(v >> 32); };
  uint64_t va01[32], va23[32], vb[32], vc01[32], vc23[32];
  const unsigned all = 0xffffffffu;
  const unsigned present = emu::warp_gather(all, pack(a[0], a[1]), va01);
  if (present != all) emu::fail_warp("mma.sync", all, __builtin_ctz(~present));
  emu::warp_gather(all, pack(a[2], a[3]), va23);
  emu::warp_gather(all, pack(b[0], b[1]), vb);
  emu::warp_gather(all, pack(c[0], c[1]), vc01);
  emu::warp_gather(all, pack(c[2], c[3]), vc23);
  float A[kMmaM][kMmaK], B[kMmaK][kMmaN], C[kMmaM][kMmaN];
  for (int l = 0; l < 32; ++l) {
    const float al[4] = {lo(va01[l]), hi(va01[l]), lo(va23[l]), hi(va23[l])};
    const float bl[2] = {lo(vb[l]), hi(vb[l])};
    const float cl[4] = {lo(vc01[l]), hi(vc01[l]), lo(vc23[l]), hi(vc23[l])};
    for (int r = 0; r < 4; ++r) A[mma_a_row(l, r)][mma_a_col(l, r)] = tf32_bits(al[r]);
    for (int r = 0; r < 2; ++r) B[mma_b_row(l, r)][mma_b_col(l)] = tf32_bits(bl[r]);
    for (int r = 0; r < 4; ++r) C[mma_c_row(l, r)][mma_c_col(l, r)] = cl[r];
  }
  const int lane = emu::tls_builtins.lane;
  for (int r = 0; r < 4; ++r) {
    const int i = mma_c_row(lane, r), j = mma_c_col(lane, r);
    float acc = C[i][j];
    for (int k = 0; k < kMmaK; ++k) acc += A[i][k] * B[k][j];
    d[r] = acc;
  }
}

#endif

}  // namespace mindiff::cuda
