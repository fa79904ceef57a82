// The CPU kernels behind conv2d (formulas and shapes in conv2d.h), rung by rung. Not ops: no
// autograd; conv2d.cpp validates, picks the rung and records the graph. x, weight and dout
// arrive contiguous; every result is a new contiguous tensor.
//
// Which rung computes what (a rung falls back to the one below where its idea does not apply):
//                  forward               dx                         dweight
//   1 im2col       im2col, sgemm         sgemm, col2im              im2col, sgemm
//   2 gathered     stride 1: col read    stride 1, square kernel:   col read in place,
//                  in place              dout conv rotated kernel   one image per product
//   3 chan. last   O in {16..64 by 16}:  as 2, its convolution      as 2, several small images
//                  [images*N, O] product on rung 3                  per product
// dbias is the same sum on every rung (conv2d_dbias).
//
// Threads: each kernel either gives whole work items (images, or groups of them) to threads, or,
// with too few, runs them one after another with threads inside each (the copies split by
// channel, sgemm by tiles); for_each_item below makes that choice. sgemm gives the same bits
// either way, so no result depends on the thread count: forward and dx depend on nothing but the
// inputs and the rung, dweight also on the fixed grouping of images (conv2d_gathered.cpp).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "tensor/ops/conv2d_geometry.h"

namespace mindiff {

// ---- the rungs ----

// conv2d_im2col.cpp (rung 1)
Tensor conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor& bias,
                             const Conv2dGeometry& g);
Tensor conv2d_dx_col2im(const Tensor& w, const Tensor& dout, const Conv2dGeometry& g);
Tensor conv2d_dweight_im2col(const Tensor& x, const Tensor& dout, const Conv2dGeometry& g);
// dbias[o] = sum over b, i, j of dout[b, o, i, j], in double: every rung's.
Tensor conv2d_dbias(const Tensor& dout, const Conv2dGeometry& g);

// conv2d_gathered.cpp (rung 2)
Tensor conv2d_forward_gathered(const Tensor& x, const Tensor& w, const Tensor& bias,
                               const Conv2dGeometry& g);  // stride 1
bool dx_by_convolution(const Conv2dGeometry& g);
Tensor conv2d_dx_by_convolution(const Tensor& w, const Tensor& dout, const Conv2dGeometry& g,
                                int rung);
Tensor conv2d_dweight_gathered(const Tensor& x, const Tensor& dout, const Conv2dGeometry& g,
                               int64_t images_per_product);
// dweight's images are cut into min(B, kWeightGradGroups) groups, each summed into its own
// partial: an upper bound on the threads that share the work, and 16 partials of [O, C*KH*KW]
// are a few MB at most for the layer sizes of a small U-Net.
constexpr int64_t kWeightGradGroups = 16;

// conv2d_channels_last.cpp (rung 3)
bool channels_last(const Conv2dGeometry& g);
Tensor conv2d_forward_channels_last(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    const Conv2dGeometry& g);
// Images per product on rung 3 (its forward, and dweight within a group): enough for a few
// hundred output positions (kPositionsPerProduct), at least 1 and at most B.
int64_t images_per_product(const Conv2dGeometry& g);

// conv2d.cpp: the arguments checked (errors name the op and the shapes) and their geometry;
// the forward of `rung` (dx by convolution runs it on dout).
Conv2dGeometry check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                            int padding);
Tensor conv2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias,
                          const Conv2dGeometry& g, int rung);

// ---- shared by the rungs (conv2d_kernels.cpp) ----

// Below ~1 MFLOP per call, starting threads costs more than it saves (and a thread that is
// descheduled on a busy machine stalls the others at the barrier).
constexpr double kParallelFlops = 1e6;

inline double conv_flops(const Conv2dGeometry& g) {
  return 2.0 * g.B * g.O * static_cast<double>(g.rows()) * g.cols();
}

// Whether to give whole work items to threads rather than splitting each one: when there are
// enough to keep every thread busy with little imbalance. Small problems run on one thread
// (items = all, and the inner sgemm stays serial below its own threshold).
inline bool split_by_item(int64_t items, const Conv2dGeometry& g) {
  const int64_t t = omp_get_max_threads();
  if (conv_flops(g) < kParallelFlops) return false;
  return items >= t && (items % t == 0 || items >= 4 * t);
}

// Runs body(item, buffer, inner) for item = 0 .. items-1, buffer being buffer_floats zeroed
// floats of the calling thread's own (zeros: the borders of padded images, never written).
// Threads take whole items when split_by_item says so (handed out dynamically: which thread
// takes an item changes nothing in its result, and one that loses its core delays nobody);
// otherwise the items run in order and inner says whether threads should split each one.
template <class Body>
void for_each_item(const Conv2dGeometry& g, int64_t items, int64_t buffer_floats, Body body) {
  const bool by_item = split_by_item(items, g);
  const bool inner = !by_item && conv_flops(g) >= kParallelFlops;
  const int64_t workers = by_item ? omp_get_max_threads() : 1;
  std::vector<float> buffers(workers * buffer_floats, 0.0f);
#pragma omp parallel for schedule(dynamic) if (by_item)
  for (int64_t item = 0; item < items; ++item)
    body(item, buffers.data() + omp_get_thread_num() * buffer_floats, inner);
}

// Output columns j whose input column j*S - P + kw lies inside [0, W): [*lo, *hi).
void valid_columns(const Conv2dGeometry& g, int64_t kw, int64_t* lo, int64_t* hi);

// dst[0, n) = src[0, n) for the short rows of U-Net images (7 to 32 floats): straight-line
// 8-float vector copies, the last one overlapping the one before when n is not a multiple of 8
// (rewriting equal values), and rows shorter than 8 by one masked load and store. Written
// without a loop on purpose: the compiler turns a copy loop into a call to memmove per row,
// which costs more than the copy at these lengths. Longer rows go to memcpy.
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


// col read in place from the zero-padded image (rungs 2 and 3).
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
// + NP-1 = C*HP*WP - 1, the last element of the plane. Without padding x is its own padded image.
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
PaddedLayout padded_layout(const Conv2dGeometry& g, int64_t images);

// Copies image xb [C, H, W] into the interior of padded [C, HP, WP], whose borders the caller
// zeroed once (they are never written). Channels split among threads when parallel.
void pad_image(const float* xb, const Conv2dGeometry& g, const PaddedLayout& l, float* padded,
               bool parallel);

}  // namespace mindiff
