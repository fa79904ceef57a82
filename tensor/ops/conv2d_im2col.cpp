// conv2d rung 1: the formulas of conv2d.h as written. For each image b, copy the input windows
// into col_b [K, N] (im2col; K = C*KH*KW rows (c, kh, kw), N = HO*WO columns (i, j)), then one
// blocked sgemm:
//   out_b   = Wm [O, K] @ col_b [K, N] + bias
//   dcol_b  = Wm^T [K, O] @ dout_b [O, N],   dx_b = col2im(dcol_b)
//   dweight = sum_b dout_b [O, N] @ col_b^T [N, K]
// The other rungs (conv2d_gathered.cpp, conv2d_channels_last.cpp) compute the same products
// without writing col_b; this is the route to read first, and what they are tested against.
#include "tensor/ops/conv2d_kernels.h"
#include "tensor/ops/gemm.h"

namespace mindiff {

namespace {

// col[(c*KH + kh)*KW + kw, i*WO + j] = xb[c, i*S - P + kh, j*S - P + kw] or 0 outside the image.
// Channels split among threads when parallel.
void im2col(const float* xb, const Conv2dGeometry& g, float* col, bool parallel) {
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
void col2im(const float* dcol, const Conv2dGeometry& g, float* dxb, bool parallel) {
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

}  // namespace

Tensor conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor& bias,
                             const Conv2dGeometry& g) {
  Tensor out = empty({g.B, g.O, g.HO, g.WO});
  const int64_t K = g.rows(), N = g.cols();
  const float *xp = x.data(), *wp = w.data(), *bp = bias.defined() ? bias.data() : nullptr;
  float* op = out.data();
  for_each_item(g, g.B, K * N, [&](int64_t b, float* col, bool inner) {
    im2col(xp + b * g.C * g.H * g.W, g, col, inner);
    // Bias first, then out_b += Wm @ col_b (beta = 1): one pass over the output instead of two.
    float* ob = op + b * g.O * N;
    if (bp)
      for (int64_t o = 0; o < g.O; ++o) std::fill(ob + o * N, ob + (o + 1) * N, bp[o]);
    sgemm(false, false, g.O, N, K, 1.0f, wp, K, col, N, bp ? 1.0f : 0.0f, ob, N);
  });
  return out;
}

Tensor conv2d_dx_col2im(const Tensor& w, const Tensor& dout, const Conv2dGeometry& g) {
  Tensor dx = empty({g.B, g.C, g.H, g.W});
  const int64_t K = g.rows(), N = g.cols();
  const float *wp = w.data(), *dp = dout.data();
  float* dxp = dx.data();
  for_each_item(g, g.B, K * N, [&](int64_t b, float* dcol, bool inner) {
    sgemm(true, false, K, N, g.O, 1.0f, wp, K, dp + b * g.O * N, N, 0.0f, dcol, N);
    col2im(dcol, g, dxp + b * g.C * g.H * g.W, inner);
  });
  return dx;
}

// Images in order, each product added onto the last (beta = 1) with threads inside sgemm and
// im2col: the sum over images is in float and in image order, whatever the thread count.
Tensor conv2d_dweight_im2col(const Tensor& x, const Tensor& dout, const Conv2dGeometry& g) {
  Tensor dw = zeros({g.O, g.C, g.KH, g.KW});
  const int64_t K = g.rows(), N = g.cols();
  const bool parallel = conv_flops(g) >= kParallelFlops;
  std::vector<float> col(K * N);
  for (int64_t b = 0; b < g.B; ++b) {
    im2col(x.data() + b * g.C * g.H * g.W, g, col.data(), parallel);
    sgemm(false, true, g.O, K, N, 1.0f, dout.data() + b * g.O * N, N, col.data(), N, 1.0f,
          dw.data(), K);
  }
  return dw;
}

Tensor conv2d_dbias(const Tensor& dout, const Conv2dGeometry& g) {
  Tensor db = empty({g.O});
  const int64_t N = g.cols();
  const float* dp = dout.data();
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
  return db;
}

}  // namespace mindiff
