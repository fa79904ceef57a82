// conv2d rung 2: rung 1's products without writing im2col's matrix. col_b's row (c, kh, kw) is
// the zero-padded image shifted by a fixed offset (PaddedLayout in conv2d_kernels.h), so
// sgemm_gather reads col_b in place through a table of row offsets (and one of column
// positions), and the KH*KW-fold copy of im2col becomes one copy of the image into its padded
// plane. Each output is the same sum, in the same order, as on rung 1; only where sgemm reads
// changes. Also, for stride 1, dx is computed as a forward convolution (below).
#include <memory>

#include "tensor/ops/conv2d_kernels.h"
#include "tensor/ops/gemm.h"

namespace mindiff {

namespace {

// out_b[o, i, j] = prod[o, i*WP + j] (+ bias[o]): the used columns of the product taken across
// the padded width.
void unpad_output(const float* prod, const Conv2dGeometry& g, const PaddedLayout& l,
                  const float* bias, float* ob, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t i = 0; i < g.HO; ++i) {
      const float* __restrict src = prod + o * l.NP + i * l.WP;
      float* __restrict dst = ob + (o * g.HO + i) * g.WO;
      if (bias) {
        const float b = bias[o];
        for (int64_t j = 0; j < g.WO; ++j) dst[j] = src[j] + b;
      } else {
        copy_row(src, dst, g.WO);
      }
    }
}

// dw[o, k] = sum over groups in order of partial_gi^T[k, o], in double: for each k, the O sums
// side by side (vectorised across o), groups in ascending order.
void sum_partials(const float* partials, int64_t groups, const Conv2dGeometry& g, float* dw) {
  const int64_t K = g.rows(), n = g.O * K;
#pragma omp parallel if (n * groups >= 32768)
  {
    std::vector<double> acc(g.O);
#pragma omp for schedule(static)
    for (int64_t k = 0; k < K; ++k) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t gi = 0; gi < groups; ++gi) {
        const float* part = partials + gi * n + k * g.O;
        for (int64_t o = 0; o < g.O; ++o) acc[o] += part[o];
      }
      for (int64_t o = 0; o < g.O; ++o) dw[o * K + k] = static_cast<float>(acc[o]);
    }
  }
}

}  // namespace

// Stride 1: prod [O, NP] = Wm @ col_b with col_b's columns taken across the padded width, so
// that each of its rows is a contiguous run of the padded plane, read in place as sgemm's B.
Tensor conv2d_forward_gathered(const Tensor& x, const Tensor& w, const Tensor& bias,
                               const Conv2dGeometry& g) {
  Tensor out = empty({g.B, g.O, g.HO, g.WO});
  const PaddedLayout l = padded_layout(g, 1);
  const int64_t K = g.rows(), padded_floats = g.P > 0 ? l.image_floats : 0;
  const float *xp = x.data(), *wp = w.data(), *bp = bias.defined() ? bias.data() : nullptr;
  float* op = out.data();
  // Per worker: the padded image (none without padding) and the product.
  for_each_item(g, g.B, padded_floats + g.O * l.NP, [&](int64_t b, float* buf, bool inner) {
    const float* xb = xp + b * g.C * g.H * g.W;
    if (g.P > 0) pad_image(xb, g, l, buf, inner);
    float* prod = buf + padded_floats;
    sgemm_gather(false, false, g.O, l.NP, K, 1.0f, GemmMatrix{wp, K},
                 GemmMatrix{g.P > 0 ? buf : xb, 0, l.row_offsets.data()}, 0.0f, prod, l.NP);
    unpad_output(prod, g, l, bp, op + b * g.O * g.cols(), inner);
  });
  return out;
}

// dx as a convolution, for stride 1 and a square kernel with P <= K - 1 (every 3x3 "same"
// convolution of the U-Net): the adjoint of a stride-1 convolution is the convolution of dout
// with the kernel rotated by 180 degrees and input/output channels swapped,
//   dx[b, c, ih, iw] = sum_{o, kh, kw} w[o, c, K-1-kh, K-1-kw] dout_padded[b, o, ih + kh, iw + kw]
// with dout padded by K - 1 - P (then dx is H x W again). The same multiply-adds as
// col2im(W^T @ dout_b), but as one product with inner dimension O*K*K (288 or 576 in the
// U-Net) instead of O (32 or 64), and no scatter-add of col2im.
bool dx_by_convolution(const Conv2dGeometry& g) {
  return g.S == 1 && g.KH == g.KW && g.P <= g.KH - 1;
}

Tensor conv2d_dx_by_convolution(const Tensor& w, const Tensor& dout, const Conv2dGeometry& g,
                                int rung) {
  // rotated[c, o, kh, kw] = w[o, c, K-1-kh, K-1-kw]
  Tensor rotated = empty({g.C, g.O, g.KH, g.KW});
  const float* src = w.data();
  float* dst = rotated.data();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw)
          dst[((c * g.O + o) * g.KH + kh) * g.KW + kw] =
              src[((o * g.C + c) * g.KH + (g.KH - 1 - kh)) * g.KW + (g.KW - 1 - kw)];
  const int64_t pad = g.KH - 1 - g.P;
  // Input dout [B, O, HO, WO]; output [B, C, H, W] (HO + 2 pad - K + 1 = H).
  const Conv2dGeometry t{g.B, g.O, g.HO, g.WO, g.C, g.KH, g.KW, g.H, g.W, 1, pad};
  return conv2d_forward_cpu(dout, rotated, Tensor(), t, rung);
}

// dweight from col_b read in place through both tables, transposed:
//   partial^T [K, O] (+)= col [K, cn*N] @ dout^T [cn*N, O]
// for cn = images_per_product images side by side (1 on rung 2), where partial [O, K] =
// dout @ col^T would pack all of col's K*cn*N values (sgemm reads A in place for N = O <= 64,
// and packs only the small dout). Images are cut into G = min(B, 16) groups (fixed by B); each
// group sums its images in order into its own partial, and the partials are added in group
// order (sum_partials), so the result does not depend on the thread count.
Tensor conv2d_dweight_gathered(const Tensor& x, const Tensor& dout, const Conv2dGeometry& g,
                               int64_t images_per_product) {
  const int64_t groups = std::min(g.B, kWeightGradGroups);
  if (groups == 0) return zeros({g.O, g.C, g.KH, g.KW});
  const int64_t K = g.rows(), N = g.cols(), images = images_per_product;
  const PaddedLayout l = padded_layout(g, images);
  // Per worker: the padded images, and their dout side by side ([O, images*N]).
  const int64_t padded_floats = g.P > 0 ? images * l.image_floats : 0;
  const int64_t side_floats = images > 1 ? g.O * images * N : 0;
  // Each group's first product overwrites its partial (beta = 0): no zeroing needed.
  std::unique_ptr<float[]> partials(new float[groups * g.O * K]);
  const float *xp = x.data(), *dp = dout.data();
  for_each_item(g, groups, padded_floats + side_floats, [&](int64_t gi, float* buf, bool inner) {
    const int64_t b0 = gi * g.B / groups, b1 = (gi + 1) * g.B / groups;
    for (int64_t b = b0; b < b1; b += images) {
      const int64_t cn = std::min(images, b1 - b);  // images b .. b+cn-1
      const float* xb = xp + b * g.C * g.H * g.W;
      const float* dout_side = dp + b * g.O * N;  // dout_b [O, N]
      if (cn > 1) {
        float* side = buf + padded_floats;  // [O, cn*N]
        for (int64_t bl = 0; bl < cn; ++bl)
          for (int64_t o = 0; o < g.O; ++o)
            std::memcpy(side + o * cn * N + bl * N, dout_side + (bl * g.O + o) * N,
                        N * sizeof(float));
        dout_side = side;
      }
      for (int64_t bl = 0; g.P > 0 && bl < cn; ++bl)
        pad_image(xb + bl * g.C * g.H * g.W, g, l, buf + bl * l.image_floats, inner);
      sgemm_gather(false, true, K, g.O, cn * N, 1.0f,
                   GemmMatrix{g.P > 0 ? buf : xb, 0, l.row_offsets.data(), l.positions.data()},
                   GemmMatrix{dout_side, cn * N}, b == b0 ? 0.0f : 1.0f,
                   partials.get() + gi * g.O * K, g.O);
    }
  });
  Tensor dw = empty({g.O, g.C, g.KH, g.KW});
  sum_partials(partials.get(), groups, g, dw.data());
  return dw;
}

}  // namespace mindiff
