// conv2d: im2col + sgemm forward and backward, beside direct-loop references (see conv2d.h).
// For stride 1 (every convolution of the U-Net but the downsampling ones, 1x1 included)
// im2col's matrix is never written: sgemm_gather reads it in place from the zero-padded image
// (the image itself without padding), each row being the image shifted by a fixed offset
// (PaddedLayout below); with 16 to 64 output channels the product is computed channels last,
// several small images to one product. For stride 1 and a square kernel dx is itself a forward
// convolution of dout with the rotated kernel (conv2d_dx_by_convolution); otherwise it is
// col2im(W^T @ dout_b).
//
// Threads: with enough images, each thread takes whole images or products of several (padding,
// sgemm and the output transpose on one thread, sgemm then runs serially); with few they go one
// after another and the threads split the copies by channel and each sgemm by tiles. sgemm
// gives the same bits either way, so forward and dx do not depend on the thread count (how many
// images share a product depends on the image size and B only). dweight sums over images:
// images are cut into a fixed number of groups (depending on B only), each group summed in image
// order into its own partial, and the partials added in group order, so dweight does not depend
// on it either.
// Images and groups are handed out dynamically: which thread takes one changes nothing in its
// result, and a thread that loses its core for a while then delays nobody.
#include "tensor/ops/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "cuda/conv2d.h"
#include "tensor/ops/common.h"
#include "tensor/ops/gemm.h"
#include "tensor/ops/simd_transpose.h"

namespace mindiff {

namespace {

const OpInfo kConv2d("conv2d");

// Upper bound on the partial sums of dweight (and so on the threads that share its work):
// 16 partials of [O, C*KH*KW] are a few MB at most for the layer sizes of a small U-Net.
constexpr int64_t kWeightGradGroups = 16;

struct ConvGeometry {
  int64_t B, C, H, W, O, KH, KW, HO, WO, S, P;
  int64_t rows() const { return C * KH * KW; }  // rows of col: (c, kh, kw)
  int64_t cols() const { return HO * WO; }      // columns of col: (i, j)
};

ConvGeometry check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                          int padding) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  MD_CHECK(x.ndim() == 4, "conv2d: input ", xs.str(), " must have rank 4 [B, C, H, W]");
  MD_CHECK(w.ndim() == 4, "conv2d: weight ", ws.str(), " must have rank 4 [O, C, KH, KW]");
  MD_CHECK(xs[1] == ws[1], "conv2d: input ", xs.str(), " has ", xs[1], " channels but weight ",
           ws.str(), " expects ", ws[1]);
  MD_CHECK(stride >= 1 && padding >= 0, "conv2d: stride ", stride, " and padding ", padding,
           " must be >= 1 and >= 0");
  if (bias.defined())
    MD_CHECK(bias.ndim() == 1 && bias.shape()[0] == ws[0], "conv2d: bias ", bias.shape().str(),
             " does not match weight ", ws.str(), " (expected [", ws[0], "])");
  const int64_t ph = xs[2] + 2 * padding, pw = xs[3] + 2 * padding;
  MD_CHECK(ws[2] <= ph && ws[3] <= pw, "conv2d: weight ", ws.str(), " has a ", ws[2], "x", ws[3],
           " kernel, larger than input ", xs.str(), " with padding ", padding, " (", ph, "x", pw,
           ")");
  return {xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], (ph - ws[2]) / stride + 1,
          (pw - ws[3]) / stride + 1, stride, padding};
}

// Output columns j whose input column j*S - P + kw lies inside [0, W): [*lo, *hi).
void valid_columns(const ConvGeometry& g, int64_t kw, int64_t* lo, int64_t* hi) {
  const int64_t first = g.P - kw;          // need j*S >= P - kw
  const int64_t last = g.W - 1 + g.P - kw;  // need j*S <= W - 1 + P - kw
  *lo = first <= 0 ? 0 : std::min(g.WO, (first + g.S - 1) / g.S);
  *hi = last < 0 ? 0 : std::min(g.WO, last / g.S + 1);
  *hi = std::max(*hi, *lo);
}

// dst[0, n) = src[0, n) for the short rows of U-Net images (7 to 32 floats): straight-line 8-float
// vector copies, the last one overlapping the one before when n is not a multiple of 8 (rewriting
// equal values), and rows shorter than 8 by one masked load and store. Written without a loop on
// purpose: the compiler turns a copy loop into a call to memmove per row, which costs more than
// the copy at these lengths. Longer rows go to memcpy.
inline void copy_row(const float* __restrict src, float* __restrict dst, int64_t n) {
#ifdef __AVX2__
  if (n > 32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (n >= 8) {
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    if (n > 16) _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
    if (n > 24) _mm256_storeu_ps(dst + 16, _mm256_loadu_ps(src + 16));
    if (n > 8) _mm256_storeu_ps(dst + n - 8, _mm256_loadu_ps(src + n - 8));
  } else if (n > 0) {
    // Lanes [0, n) on: the masked-off lanes are neither read nor written.
    static const int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLanes + 8 - n));
    _mm256_maskstore_ps(dst, mask, _mm256_maskload_ps(src, mask));
  }
#else
  std::memcpy(dst, src, n * sizeof(float));
#endif
}

// ---- col read in place from the padded image ----
//
// Store the zero-padded image channel after channel, each channel HP x WP row after row
// (HP = H + 2P, WP = W + 2P). Then
//   col[(c*KH + kh)*KW + kw, i*WO + j] = padded[c, i*S + kh, j*S + kw]
//                                      = flat[(c*HP*WP + kh*WP + kw) + (i*S*WP + j*S)]
// a sum of a row offset and a column offset: sgemm_gather reads col there through a table of
// each (row_offsets, positions), and im2col's KH*KW-fold copy of the image becomes one copy into
// the padded plane. Where the product needs col's rows contiguous (col as sgemm's B read in
// place; stride 1 only), the columns are taken across the padded width instead, n' = i*WP + j
// for n' < NP = (HO - 1)*WP + WO, the WP - WO columns j >= WO of each row computed and not used
// (8% more work at 28x28 with P = 1). The largest offset read is (C-1)*HP*WP + (KH-1)*WP + KW-1
// + NP-1 = C*HP*WP - 1, the last element of the plane.
//
// Several images can share one product: with their padded images stored one after another
// (image_floats apart), column (b, i, j) of the images' side-by-side col matrices is at
// b*image_floats + i*S*WP + j*S. Small images then make one product of a few hundred rows
// instead of many small ones, each packing the weights again and ending in a mostly empty edge
// tile.
struct PaddedLayout {
  int64_t HP, WP, NP;
  int64_t image_floats;              // C*HP*WP: one padded image
  std::vector<int64_t> row_offsets;  // [C*KH*KW]: where row (c, kh, kw) of col starts
  std::vector<int64_t> positions;    // [images*HO*WO]: offset of column (b, i, j) of col
};

// Positions per product the gathered paths aim for (7x7 images: 8 per product, 14x14: 2).
constexpr int64_t kPositionsPerProduct = 400;

PaddedLayout padded_layout(const ConvGeometry& g, int64_t images) {
  const int64_t HP = g.H + 2 * g.P, WP = g.W + 2 * g.P;
  PaddedLayout l{HP, WP, (g.HO - 1) * WP + g.WO, g.C * HP * WP, {}, {}};
  l.row_offsets.resize(g.rows());
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw)
        l.row_offsets[(c * g.KH + kh) * g.KW + kw] = c * HP * WP + kh * WP + kw;
  l.positions.resize(images * g.cols());
  for (int64_t b = 0; b < images; ++b)
    for (int64_t i = 0; i < g.HO; ++i)
      for (int64_t j = 0; j < g.WO; ++j)
        l.positions[(b * g.HO + i) * g.WO + j] = b * l.image_floats + (i * WP + j) * g.S;
  return l;
}

// Copies image xb [C, H, W] into the interior of padded [C, HP, WP], whose borders the caller
// zeroed once (they are never written). Channels split among threads when parallel.
void pad_image(const float* xb, const ConvGeometry& g, const PaddedLayout& l, float* padded,
               bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h)
      copy_row(xb + (c * g.H + h) * g.W, padded + (c * l.HP + h + g.P) * l.WP + g.P, g.W);
}

// col[(c*KH + kh)*KW + kw, i*WO + j] = xb[c, i*S - P + kh, j*S - P + kw] or 0 outside the image.
// Used by the forward of strided convolutions with other than 16 to 64 output channels (the
// other products read the padded image in place, above).
void im2col(const float* xb, const ConvGeometry& g, float* col, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* dst = col + ((c * g.KH + kh) * g.KW + kw) * g.cols();
        int64_t lo, hi;
        valid_columns(g, kw, &lo, &hi);
        for (int64_t i = 0; i < g.HO; ++i, dst += g.WO) {
          const int64_t ih = i * g.S - g.P + kh;
          if (ih < 0 || ih >= g.H) {
            for (int64_t j = 0; j < g.WO; ++j) dst[j] = 0.0f;
            continue;
          }
          const float* row = xb + (c * g.H + ih) * g.W;  // iw = j*S - P + kw
          // Plain loops rather than memcpy/fill: the rows are short (7 to 32 floats), and a
          // library call per row cost more than the copy itself.
          for (int64_t j = 0; j < lo; ++j) dst[j] = 0.0f;
          for (int64_t j = lo; j < hi; ++j) dst[j] = row[j * g.S - g.P + kw];
          for (int64_t j = hi; j < g.WO; ++j) dst[j] = 0.0f;
        }
      }
}

// The adjoint of im2col: dxb[c, ih, iw] = sum of the dcol entries that im2col copied from
// (c, ih, iw). Each channel is owned by one thread and summed in (kh, kw, i, j) order.
void col2im(const float* dcol, const ConvGeometry& g, float* dxb, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < g.C; ++c) {
    float* plane = dxb + c * g.H * g.W;
    std::fill(plane, plane + g.H * g.W, 0.0f);
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* src = dcol + ((c * g.KH + kh) * g.KW + kw) * g.cols();
        int64_t lo, hi;
        valid_columns(g, kw, &lo, &hi);
        for (int64_t i = 0; i < g.HO; ++i, src += g.WO) {
          const int64_t ih = i * g.S - g.P + kh;
          if (ih < 0 || ih >= g.H) continue;
          float* row = plane + ih * g.W;  // iw = j*S - P + kw
          if (g.S == 1) {
            // Unit stride: a plain vector add once the compiler knows the rows do not overlap.
            float* __restrict d = row;
            const float* __restrict v = src;
            const int64_t shift = kw - g.P;
            for (int64_t j = lo; j < hi; ++j) d[j + shift] += v[j];
          } else {
            for (int64_t j = lo; j < hi; ++j) row[j * g.S - g.P + kw] += src[j];
          }
        }
      }
  }
}

// Below ~1 MFLOP per call, starting threads costs more than it saves (and a thread that is
// descheduled on a busy machine stalls the others at the barrier).
constexpr double kParallelFlops = 1e6;

double conv_flops(const ConvGeometry& g) {
  return 2.0 * g.B * g.O * static_cast<double>(g.rows()) * g.cols();
}

// Whether to give whole work items (images, groups) to threads rather than splitting each one:
// when there are enough to keep every thread busy with little imbalance. Small problems run on
// one thread (items = all, and the inner sgemm stays serial below its own threshold).
bool split_by_item(int64_t items, const ConvGeometry& g) {
  const int64_t t = omp_get_max_threads();
  if (conv_flops(g) < kParallelFlops) return false;
  return items >= t && (items % t == 0 || items >= 4 * t);
}

// out_b[o, i, j] = prod[o, i*WP + j] (+ bias[o]): the used columns of the shifted product.
void unpad_output(const float* prod, const ConvGeometry& g, const PaddedLayout& l,
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

// out_b[o, n] = prodt[n, o] (+ bias[o]) for prodt [N, O] (channels last), in 8 x 8 blocks
// transposed in registers.
void transpose_output(const float* prodt, const ConvGeometry& g, const float* bias, float* ob,
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

// Whether the stride-1 product is computed transposed, prod^T [N, O] = col_b^T @ Wm^T, with
// the channels as its columns: when O is a whole number of 16-column register tiles (and small
// enough that sgemm reads col_b^T in place, gathering exactly the HO*WO used positions).
// Otherwise O in 6-row tiles wastes 11% at O = 32 (6 tiles, 36 rows) and 3% at O = 64, and the
// columns run across the padded width. Same products, summed in the same order: only which
// tile an output lands in changes.
bool channels_last(const ConvGeometry& g) { return g.O % 16 == 0 && g.O <= 64; }

Tensor conv2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias,
                          const ConvGeometry& g) {
  const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({g.B, g.O, g.HO, g.WO});
  const int64_t K = g.rows(), N = g.cols();
  // Three ways to get col_b: the padded images read through tables (channels last, several
  // small images per product), the padded image read across its width (other stride-1
  // convolutions), or im2col into a buffer.
  const bool last = channels_last(g);
  const bool shifted = last || g.S == 1;
  const int64_t images = last ? std::clamp<int64_t>(kPositionsPerProduct / N, 1, g.B) : 1;
  const int64_t chunks = (g.B + images - 1) / images;
  const bool by_chunk = split_by_item(chunks, g);
  const bool inner = !by_chunk && conv_flops(g) >= kParallelFlops;  // threads inside each chunk
  const int64_t workers = by_chunk ? omp_get_max_threads() : 1;
  const PaddedLayout l = shifted ? padded_layout(g, images) : PaddedLayout{};
  // Per worker: the padded images (none without padding: x is its own padded image) and their
  // product ([images*N, O] or [O, NP]), or col_b.
  const int64_t padded_floats = shifted && g.P > 0 ? images * l.image_floats : 0;
  const int64_t per_worker =
      shifted ? padded_floats + g.O * std::max(images * N, l.NP) : K * N;
  std::vector<float> bufs(workers * per_worker, 0.0f);  // zeros: the borders of padded images
  const float *xp = xc.data(), *wp = wc.data(), *bp = bc.defined() ? bc.data() : nullptr;
  float* op = out.data();
#pragma omp parallel for schedule(dynamic) if (by_chunk)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t b0 = ch * images, cn = std::min(images, g.B - b0);  // images b0 .. b0+cn-1
    float* buf = bufs.data() + omp_get_thread_num() * per_worker;
    const float* xb = xp + b0 * g.C * g.H * g.W;
    float* ob = op + b0 * g.O * N;
    if (shifted) {
      float* prod = buf + padded_floats;
      const float* padded = g.P > 0 ? buf : xb;
      for (int64_t bl = 0; g.P > 0 && bl < cn; ++bl)
        pad_image(xb + bl * g.C * g.H * g.W, g, l, buf + bl * l.image_floats, inner);
      if (last) {
        // prod^T [cn*N, O] = col^T @ Wm^T, the cn images' col read through both tables.
        sgemm_gather(true, true, cn * N, g.O, K, 1.0f,
                     GemmMatrix{padded, 0, l.row_offsets.data(), l.positions.data()},
                     GemmMatrix{wp, K}, 0.0f, prod, g.O);
        for (int64_t bl = 0; bl < cn; ++bl)
          transpose_output(prod + bl * N * g.O, g, bp, ob + bl * g.O * N, inner);
      } else {
        // prod [O, NP] = Wm @ col_b over the padded width (one image), rows read in place.
        sgemm_gather(false, false, g.O, l.NP, K, 1.0f, GemmMatrix{wp, K},
                     GemmMatrix{padded, 0, l.row_offsets.data()}, 0.0f, prod, l.NP);
        unpad_output(prod, g, l, bp, ob, inner);
      }
      continue;
    }
    im2col(xb, g, buf, inner);
    // Bias first, then out_b += Wm @ col_b (beta = 1): one pass over the output instead of two.
    if (bp)
      for (int64_t o = 0; o < g.O; ++o) std::fill(ob + o * N, ob + (o + 1) * N, bp[o]);
    sgemm(false, false, g.O, N, K, 1.0f, wp, K, buf, N, bp ? 1.0f : 0.0f, ob, N);
  }
  return out;
}

// dx as a convolution, for stride 1 and a square kernel with P <= K - 1 (every 3x3 "same"
// convolution of the U-Net): the adjoint of a stride-1 convolution is the convolution of dout
// with the kernel rotated by 180 degrees and input/output channels swapped,
//   dx[b, c, ih, iw] = sum_{o, kh, kw} w[o, c, K-1-kh, K-1-kw] dout_padded[b, o, ih + kh, iw + kw]
// with dout padded by K - 1 - P (then dx is H x W again). The same multiply-adds as
// col2im(W^T @ dout_b), but as one product with inner dimension O*K*K (288 or 576 in the
// U-Net) instead of O (32 or 64), and im2col in place of the scatter-add of col2im.
bool dx_by_convolution(const ConvGeometry& g) {
  return g.S == 1 && g.KH == g.KW && g.P <= g.KH - 1;
}

Tensor conv2d_dx_by_convolution(const Tensor& w, const Tensor& dout, const ConvGeometry& g) {
  const Tensor wc = w.detach().contiguous();
  Tensor rotated = empty({g.C, g.O, g.KH, g.KW});  // rotated[c, o, kh, kw] = w[o, c, K-1-kh, K-1-kw]
  const float* src = wc.data();
  float* dst = rotated.data();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw)
          dst[((c * g.O + o) * g.KH + kh) * g.KW + kw] =
              src[((o * g.C + c) * g.KH + (g.KH - 1 - kh)) * g.KW + (g.KW - 1 - kw)];
  const int64_t pad = g.KH - 1 - g.P;
  // Input dout [B, O, HO, WO]; output [B, C, H, W] (HO + 2 pad - K + 1 = H).
  const ConvGeometry t{g.B, g.O, g.HO, g.WO, g.C, g.KH, g.KW, g.H, g.W, 1, pad};
  return conv2d_forward_cpu(dout, rotated, Tensor(), t);
}

std::vector<Tensor> conv2d_backward_cpu(const Tensor& x, const Tensor& w, const Tensor& dout,
                                        const ConvGeometry& g, bool need_dx, bool need_dw,
                                        bool need_db) {
  const Tensor dc = dout.contiguous();  // often an expanded view (the backward of sum)
  const int64_t K = g.rows(), N = g.cols();
  const float* dp = dc.data();
  Tensor dx, dw, db;
  if (need_db) {
    db = empty({g.O});
    float* dbp = db.data();
#pragma omp parallel for schedule(static) if (g.O * g.B * N >= 32768)
    for (int64_t o = 0; o < g.O; ++o) {
      // B*HO*WO terms in double, in 8 interleaved partial sums (lane l takes n = l mod 8) so
      // that the loop vectorises without reordering any one sum; then the lanes in order.
      double lanes[8] = {};
      double acc = 0.0;
      for (int64_t b = 0; b < g.B; ++b) {
        const float* row = dp + (b * g.O + o) * N;
        int64_t n = 0;
        for (; n + 8 <= N; n += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += row[n + l];
        for (; n < N; ++n) acc += row[n];
      }
      for (int l = 0; l < 8; ++l) acc += lanes[l];
      dbp[o] = static_cast<float>(acc);
    }
  }
  if (need_dx && dx_by_convolution(g)) {
    dx = conv2d_dx_by_convolution(w, dc, g);
    need_dx = false;  // done; the loop below computes dweight only
  }
  if (!need_dx && !need_dw) return {dx, dw, db};

  const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  const float *xp = xc.data(), *wp = wc.data();
  if (need_dx) dx = empty({g.B, g.C, g.H, g.W});
  float* dxp = need_dx ? dx.data() : nullptr;
  // Group gi holds images [gi*B/G, (gi+1)*B/G) and sums their col_b @ dout_b^T into partial gi.
  const int64_t groups = std::min(g.B, kWeightGradGroups);
  const bool by_group = split_by_item(groups, g);
  const bool inner = !by_group && conv_flops(g) >= kParallelFlops;  // threads inside col ops
  const int64_t workers = by_group ? omp_get_max_threads() : 1;
  if (need_dw) dw = groups > 0 ? empty({g.O, g.C, g.KH, g.KW}) : zeros({g.O, g.C, g.KH, g.KW});
  // dweight's col_b: the padded images read through tables (small images several to a product,
  // never across groups; without padding x is its own padded image). Each group sums its
  // images into its own partial, transposed: [K, O].
  std::unique_ptr<float[]> partials(need_dw ? new float[groups * g.O * K] : nullptr);
  const int64_t images =
      need_dw ? std::clamp<int64_t>(kPositionsPerProduct / N, 1, std::max<int64_t>(g.B, 1)) : 1;
  const PaddedLayout l = need_dw ? padded_layout(g, images) : PaddedLayout{};
  // Per worker: the padded images and their dout side by side ([O, images*N]) for dweight,
  // dcol_b for dx.
  const int64_t padded_floats = need_dw && g.P > 0 ? images * l.image_floats : 0;
  const int64_t col_floats =
      need_dw ? padded_floats + (images > 1 ? g.O * images * N : 0) : 0;
  const int64_t per_worker = col_floats + (need_dx ? K * N : 0);
  std::vector<float> bufs(workers * per_worker, 0.0f);  // zeros: the borders of padded images
#pragma omp parallel for schedule(dynamic) if (by_group)
  for (int64_t gi = 0; gi < groups; ++gi) {
    float* col = bufs.data() + omp_get_thread_num() * per_worker;
    float* dcol = col + col_floats;
    const int64_t b0 = gi * g.B / groups, b1 = (gi + 1) * g.B / groups;
    for (int64_t b = b0; b < b1;) {
      const int64_t cn = std::min(images, b1 - b);  // images b .. b+cn-1
      const float* xb = xp + b * g.C * g.H * g.W;
      const float* dout_b = dp + b * g.O * N;  // dout_b [O, N]
      if (need_dw) {
        // Transposed, partial^T [K, O] (+)= col [K, cn*N] @ dout^T [cn*N, O]: col is read in
        // place from the padded images through both tables (sgemm reads A in place for N = O
        // <= 64) and only the small dout is packed, where partial [O, K] = dout @ col^T would
        // pack all of col's K*cn*N values. Several images' dout go side by side first.
        const float* dout_side = dout_b;
        if (cn > 1) {
          float* side = col + padded_floats;  // [O, cn*N]
          for (int64_t bl = 0; bl < cn; ++bl)
            for (int64_t o = 0; o < g.O; ++o)
              std::memcpy(side + o * cn * N + bl * N, dout_b + (bl * g.O + o) * N,
                          N * sizeof(float));
          dout_side = side;
        }
        for (int64_t bl = 0; g.P > 0 && bl < cn; ++bl)
          pad_image(xb + bl * g.C * g.H * g.W, g, l, col + bl * l.image_floats, inner);
        sgemm_gather(false, true, K, g.O, cn * N, 1.0f,
                     GemmMatrix{g.P > 0 ? col : xb, 0, l.row_offsets.data(), l.positions.data()},
                     GemmMatrix{dout_side, cn * N}, b == b0 ? 0.0f : 1.0f,
                     partials.get() + gi * g.O * K, g.O);
      }
      for (int64_t bl = 0; need_dx && bl < cn; ++bl) {
        // dx_b = col2im(dcol_b), dcol_b [K, N] = Wm^T [K, O] @ dout_b [O, N].
        sgemm(true, false, K, N, g.O, 1.0f, wp, K, dout_b + bl * g.O * N, N, 0.0f, dcol, N);
        col2im(dcol, g, dxp + (b + bl) * g.C * g.H * g.W, inner);
      }
      b += cn;
    }
  }
  if (need_dw && groups > 0) {
    // dw[o, k] = sum over groups in order of partial^T[k, o]: for each k, the O sums side by
    // side (vectorised across o), groups in ascending order.
    float* dwp = dw.data();
    const int64_t n = g.O * K;
#pragma omp parallel if (n * groups >= 32768)
    {
      std::vector<double> acc(g.O);
#pragma omp for schedule(static)
      for (int64_t k = 0; k < K; ++k) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t gi = 0; gi < groups; ++gi) {
          const float* part = partials.get() + gi * n + k * g.O;
          for (int64_t o = 0; o < g.O; ++o) acc[o] += part[o];
        }
        for (int64_t o = 0; o < g.O; ++o) dwp[o * K + k] = static_cast<float>(acc[o]);
      }
    }
  }
  return {dx, dw, db};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding) {
  const Device device = common_device("conv2d", {x, weight, bias});
  const ConvGeometry g = check_conv2d(x, weight, bias, stride, padding);
  // The CUDA launchers (cuda/conv2d.cu) take the same geometry.
  const Conv2dShape cg{g.B, g.C, g.H, g.W, g.O, g.KH, g.KW, g.HO, g.WO, g.S, g.P};
  Tensor out = device == Device::CUDA ? conv2d_forward_cuda(x, weight, bias, cg)
                                      : conv2d_forward_cpu(x, weight, bias, g);
  if (needs_grad({x, weight, bias}))
    record(kConv2d, out, {x, weight, bias},
           [xd = x.detach(), wd = weight.detach(), g, cg, gx = x.requires_grad(),
            gw = weight.requires_grad(),
            gb = bias.defined() && bias.requires_grad()](const Tensor& dout) {
             if (dout.device() == Device::CUDA) {
               Conv2dCudaGrads r = conv2d_backward_cuda(xd, wd, dout, cg, gx, gw, gb);
               return std::vector<Tensor>{r.dx, r.dweight, r.dbias};
             }
             return conv2d_backward_cpu(xd, wd, dout, g, gx, gw, gb);
           });
  return out;
}

// ---- references: the definitions in conv2d.h as direct loops, summed in double ----

Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                        int padding) {
  const ConvGeometry g = check_conv2d(x, weight, bias, stride, padding);
  std::vector<float> xv = x.to_vector(), wv = weight.to_vector();
  std::vector<float> bv = bias.defined() ? bias.to_vector() : std::vector<float>(g.O, 0.0f);
  std::vector<float> out(g.B * g.O * g.HO * g.WO);
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.HO; ++i)
        for (int64_t j = 0; j < g.WO; ++j) {
          double acc = bv[o];
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = i * g.S - g.P + kh, iw = j * g.S - g.P + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += double(wv[((o * g.C + c) * g.KH + kh) * g.KW + kw]) *
                       xv[((b * g.C + c) * g.H + ih) * g.W + iw];
              }
          out[((b * g.O + o) * g.HO + i) * g.WO + j] = static_cast<float>(acc);
        }
  return from_data(out, {g.B, g.O, g.HO, g.WO});
}

Conv2dGrads conv2d_backward_reference(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                      int stride, int padding) {
  const ConvGeometry g = check_conv2d(x, weight, Tensor(), stride, padding);
  MD_CHECK(dout.shape() == Shape({g.B, g.O, g.HO, g.WO}), "conv2d_backward_reference: dout ",
           dout.shape().str(), " does not match the output of input ", x.shape().str(),
           " and weight ", weight.shape().str());
  std::vector<float> xv = x.to_vector(), wv = weight.to_vector(), dv = dout.to_vector();
  std::vector<double> dx(xv.size(), 0.0), dw(wv.size(), 0.0), db(g.O, 0.0);
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.HO; ++i)
        for (int64_t j = 0; j < g.WO; ++j) {
          const double d = dv[((b * g.O + o) * g.HO + i) * g.WO + j];
          db[o] += d;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = i * g.S - g.P + kh, iw = j * g.S - g.P + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const int64_t xi = ((b * g.C + c) * g.H + ih) * g.W + iw;
                const int64_t wi = ((o * g.C + c) * g.KH + kh) * g.KW + kw;
                dx[xi] += wv[wi] * d;
                dw[wi] += xv[xi] * d;
              }
        }
  auto to_tensor = [](const std::vector<double>& v, const Shape& s) {
    return from_data(std::vector<float>(v.begin(), v.end()), s);
  };
  return {to_tensor(dx, x.shape()), to_tensor(dw, weight.shape()), to_tensor(db, {g.O})};
}

}  // namespace mindiff
