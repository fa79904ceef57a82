// conv2d rung 3: rung 2 with the forward product turned around and several small images in one
// product. With O a whole number of 16-column register tiles (16 to 64 output channels),
//   prod^T [cn*N, O] = [col_b1 | col_b2 | ...]^T @ Wm^T
// puts the channels last: sgemm reads col^T in place through the position table (gathering
// exactly the HO*WO used positions, any stride), and cn = images_per_product small images make
// one product of a few hundred rows instead of cn small ones, each packing the weights again
// and ending in a mostly empty edge tile. Otherwise O in 6-row tiles wastes 11% at O = 32 (6
// tiles, 36 rows) and 3% at O = 64. Same products, summed in the same order as on rung 2: only
// which tile an output lands in changes. An 8 x 8 register transpose puts the result back in
// [O, N] order.
#include "tensor/ops/conv2d_kernels.h"
#include "tensor/ops/gemm.h"
#include "tensor/ops/simd_transpose.h"

namespace mindiff {

namespace {

// Positions per product the batched paths aim for (7x7 images: 8 per product, 14x14: 2).
constexpr int64_t kPositionsPerProduct = 400;

// out_b[o, n] = prodt[n, o] (+ bias[o]) for prodt [N, O] (channels last), in 8 x 8 blocks
// transposed in registers.
void transpose_output(const float* prodt, const Conv2dGeometry& g, const float* bias, float* ob,
                      bool parallel) {
  const int64_t O = g.O, N = g.cols();
  const int64_t blocks = N / 8;  // full blocks of 8 positions; the rest one by one
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t blk = 0; blk <= blocks; ++blk) {
    int64_t n0 = blk * 8;
#ifdef __AVX2__
    if (blk < blocks && O % 8 == 0) {
      for (int64_t o0 = 0; o0 < O; o0 += 8) {
        __m256 r[8];  // r[q]: channels o0..o0+8 at position n0 + q
        for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(prodt + (n0 + q) * O + o0);
        transpose_8x8_regs(r);  // r[q]: channel o0 + q at positions n0..n0+8
        for (int q = 0; q < 8; ++q) {
          const __m256 v = bias ? _mm256_add_ps(r[q], _mm256_set1_ps(bias[o0 + q])) : r[q];
          _mm256_storeu_ps(ob + (o0 + q) * N + n0, v);
        }
      }
      continue;
    }
#endif
    for (int64_t n = n0; n < std::min(N, n0 + 8); ++n)
      for (int64_t o = 0; o < O; ++o) ob[o * N + n] = prodt[n * O + o] + (bias ? bias[o] : 0.0f);
  }
}

}  // namespace

// O a whole number of 16-column register tiles, and small enough that sgemm reads col_b^T in
// place (gemm.cpp's kDirectAMaxCols).
bool channels_last(const Conv2dGeometry& g) { return g.O % 16 == 0 && g.O <= 64; }

int64_t images_per_product(const Conv2dGeometry& g) {
  return std::clamp<int64_t>(kPositionsPerProduct / g.cols(), 1, std::max<int64_t>(g.B, 1));
}

Tensor conv2d_forward_channels_last(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    const Conv2dGeometry& g) {
  Tensor out = empty({g.B, g.O, g.HO, g.WO});
  const int64_t K = g.rows(), N = g.cols(), images = images_per_product(g);
  const int64_t chunks = (g.B + images - 1) / images;
  const PaddedLayout l = padded_layout(g, images);
  const int64_t padded_floats = g.P > 0 ? images * l.image_floats : 0;
  const float *xp = x.data(), *wp = w.data(), *bp = bias.defined() ? bias.data() : nullptr;
  float* op = out.data();
  // Per worker: the padded images (none without padding: x is its own) and their product.
  for_each_item(g, chunks, padded_floats + images * N * g.O, [&](int64_t ch, float* buf,
                                                                 bool inner) {
    const int64_t b0 = ch * images, cn = std::min(images, g.B - b0);  // images b0 .. b0+cn-1
    const float* xb = xp + b0 * g.C * g.H * g.W;
    for (int64_t bl = 0; g.P > 0 && bl < cn; ++bl)
      pad_image(xb + bl * g.C * g.H * g.W, g, l, buf + bl * l.image_floats, inner);
    float* prod = buf + padded_floats;
    // prod^T [cn*N, O] = col^T @ Wm^T, the cn images' col read through both tables.
    sgemm_gather(true, true, cn * N, g.O, K, 1.0f,
                 GemmMatrix{g.P > 0 ? buf : xb, 0, l.row_offsets.data(), l.positions.data()},
                 GemmMatrix{wp, K}, 0.0f, prod, g.O);
    for (int64_t bl = 0; bl < cn; ++bl)
      transpose_output(prod + bl * N * g.O, g, bp, op + (b0 + bl) * g.O * N, inner);
  });
  return out;
}

}  // namespace mindiff
