// conv2d on the GPU (see conv2d.h), two ways, both as matrix products over the columns of
// im2col. With K = C KH KW and N = HO WO, the columns of image b form col_b [K, N]:
//   col[b, (c KH + kh) KW + kw, i WO + j] = x[b, c, i S - P + kh, j S - P + kw]  (0 outside)
// and with Wm = weight viewed [O, K]:
//   out_b = Wm @ col_b + bias            [O, K] @ [K, N] per image
//   dweight = sum_b dout_b @ col_b^T     [O, N] @ [N, K] per image, then a sum over b (reduce
//                                        kernel): no atomics, deterministic
//   dx: dcol_b = Wm^T @ dout_b, and each pixel of dx sums the dcol entries its windows made
//   dbias = sum over b, i, j of dout     reduce kernel
//
// Implicit GEMM (the default): the products run on the tile kernels of cuda/gemm_tiles.h (v4 in
// FP32, v5 with --precision tf32) with operands that read each element of col_b, col_b^T or
// the output gradient where it lies in x or dout: no [B, K, N] matrix is ever written. dx is one
// product per image over k' = (o, kh, kw):
//   dx[b, c, ih, iw] = sum_k' W[o, c, kh, kw] dout[b, o, (ih + P - kh) / S, (iw + P - kw) / S]
// with the terms whose division is not exact, or lands outside dout, left out (zero).
//
// im2col (kept to measure against): the columns are written to memory and multiplied by the
// default matmul (v3, or v5 in TF32); dx goes through dcol and a gather, col2im, in which each
// thread owns one pixel of dx and adds up the (kh, kw) entries of dcol that came from it, in the
// CPU's order (scattering with atomicAdd would give run-to-run differences in the last bit).
// A 1x1 kernel with stride 1 and no padding needs no im2col: col_b is x_b itself.
#include "cuda/conv2d.h"

#include "cuda/elementwise.h"
#include "cuda/gemm_tiles.h"
#include "cuda/kernel.h"
#include "cuda/matmul.h"
#include "cuda/reduce.h"
#include "cuda/strided.h"
#include "tensor/precision.h"

namespace mindiff {

namespace {

bool pointwise(const Conv2dGeometry& g) { return g.KH == 1 && g.KW == 1 && g.S == 1 && g.P == 0; }

// One thread per element of col [B, K, N]; x contiguous [B, C, H, W].
__global__ void im2col_kernel(const float* x, Conv2dGeometry g, float* col, int64_t n) {
  const int64_t K = g.rows(), N = g.cols();
  for (int64_t e = cuda::first_index(); e < n; e += cuda::grid_stride()) {
    const int64_t col_idx = e % N, row = (e / N) % K, b = e / (N * K);
    const int64_t j = col_idx % g.WO, i = col_idx / g.WO;
    const int64_t kw = row % g.KW, kh = (row / g.KW) % g.KH, c = row / (g.KW * g.KH);
    const int64_t ih = i * g.S - g.P + kh, iw = j * g.S - g.P + kw;
    const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
    col[e] = inside ? x[((b * g.C + c) * g.H + ih) * g.W + iw] : 0.0f;
  }
}

// One thread per pixel of dx [B, C, H, W]: the sum over (kh, kw) of dcol[b, (c, kh, kw), (i, j)]
// for the output positions (i, j) whose window put this pixel at (kh, kw):
// ih = i S - P + kh, i.e. i = (ih + P - kh) / S when that divides exactly and 0 <= i < HO.
__global__ void col2im_kernel(const float* dcol, Conv2dGeometry g, float* dx, int64_t n) {
  const int64_t K = g.rows(), N = g.cols();
  for (int64_t e = cuda::first_index(); e < n; e += cuda::grid_stride()) {
    const int64_t iw = e % g.W, ih = (e / g.W) % g.H, c = (e / (g.W * g.H)) % g.C,
                  b = e / (g.W * g.H * g.C);
    const float* base = dcol + b * K * N;
    float acc = 0.0f;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ti = ih + g.P - kh;
      if (ti < 0 || ti % g.S != 0 || ti / g.S >= g.HO) continue;
      const int64_t i = ti / g.S;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t tj = iw + g.P - kw;
        if (tj < 0 || tj % g.S != 0 || tj / g.S >= g.WO) continue;
        acc += base[((c * g.KH + kh) * g.KW + kw) * N + i * g.WO + tj / g.S];
      }
    }
    dx[e] = acc;
  }
}

// col [B, K, N] for contiguous x (x itself, viewed, for a pointwise kernel).
Tensor im2col(const Tensor& xc, const Conv2dGeometry& g) {
  const int64_t K = g.rows(), N = g.cols();
  if (pointwise(g)) return xc.view({g.B, K, N});
  Tensor col = empty({g.B, K, N}, Device::CUDA);
  const int64_t n = col.numel();
  if (n > 0) MD_LAUNCH(im2col_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, xc.data(), g, col.data(), n);
  return col;
}

// ---- implicit GEMM operands (cuda/gemm_tiles.h: bound, along_k, quad) ----
// Quads run along x, element by element: windows overlap and wrap at row ends, so four
// neighbours along x are rarely four neighbours in memory.
template <class Op>
__device__ __forceinline__ void gather_quad(const Op& o, int64_t k, int64_t x, float (&v)[4]) {
  MD_UNROLL
  for (int j = 0; j < 4; ++j) v[j] = (k < o.rows && x + j < o.cols) ? o.at(k, x + j) : 0.0f;
}

// col_b [K, N] of image b, or (transposed, for dweight) col_b^T [N, K], read from x [B, C, H, W].
struct ColumnsOperand {
  const float* x;
  Conv2dGeometry g;
  bool transposed;
  int64_t rows, cols;
  int64_t b = 0;
  bool along_k = false;

  __device__ __forceinline__ ColumnsOperand bound(int64_t z) const {
    ColumnsOperand o = *this;
    o.b = z;
    return o;
  }
  __device__ __forceinline__ float at(int64_t r, int64_t c) const {
    const int64_t k = transposed ? c : r, n = transposed ? r : c;
    const int64_t kw = k % g.KW, kh = (k / g.KW) % g.KH, ch = k / (g.KW * g.KH);
    const int64_t ih = (n / g.WO) * g.S - g.P + kh, iw = (n % g.WO) * g.S - g.P + kw;
    const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
    return inside ? x[((b * g.C + ch) * g.H + ih) * g.W + iw] : 0.0f;
  }
  __device__ __forceinline__ void quad(int64_t k, int64_t c, float (&v)[4]) const {
    gather_quad(*this, k, c, v);
  }
};

ColumnsOperand columns(const Tensor& xc, const Conv2dGeometry& g, bool transposed) {
  const int64_t K = g.rows(), N = g.cols();
  return ColumnsOperand{xc.data(), g, transposed, transposed ? N : K, transposed ? K : N};
}

// For dx, as A^T: element (k' = (o, kh, kw), c) = weight[o, c, kh, kw]; the same for every image.
struct WeightsByOutputOperand {
  const float* w;
  Conv2dGeometry g;
  int64_t rows, cols;  // O KH KW, C
  bool along_k = false;

  __device__ __forceinline__ WeightsByOutputOperand bound(int64_t) const { return *this; }
  __device__ __forceinline__ float at(int64_t k, int64_t c) const {
    const int64_t window = g.KH * g.KW, o = k / window;
    return w[(o * g.C + c) * window + k % window];
  }
  __device__ __forceinline__ void quad(int64_t k, int64_t c, float (&v)[4]) const {
    gather_quad(*this, k, c, v);
  }
};

// For dx, as B: element (k' = (o, kh, kw), p = ih W + iw) = dout[b, o, i, j] for the output
// position (i, j) whose window puts pixel (ih, iw) at (kh, kw), zero when there is none.
struct OutputGradOperand {
  const float* d;
  Conv2dGeometry g;
  int64_t rows, cols;  // O KH KW, H W
  int64_t b = 0;
  bool along_k = false;

  __device__ __forceinline__ OutputGradOperand bound(int64_t z) const {
    OutputGradOperand o = *this;
    o.b = z;
    return o;
  }
  __device__ __forceinline__ float at(int64_t k, int64_t p) const {
    const int64_t kw = k % g.KW, kh = (k / g.KW) % g.KH, o = k / (g.KW * g.KH);
    const int64_t ti = p / g.W + g.P - kh, tj = p % g.W + g.P - kw;
    if (ti < 0 || tj < 0 || ti % g.S != 0 || tj % g.S != 0) return 0.0f;
    const int64_t i = ti / g.S, j = tj / g.S;
    if (i >= g.HO || j >= g.WO) return 0.0f;
    return d[((b * g.O + o) * g.HO + i) * g.WO + j];
  }
  __device__ __forceinline__ void quad(int64_t k, int64_t c, float (&v)[4]) const {
    gather_quad(*this, k, c, v);
  }
};

bool tf32() { return cuda_precision() == Precision::TF32; }

cuda::tiles::TileGemmOut gemm_out(const Tensor& c, int64_t m, int64_t n, int64_t k, int64_t batch) {
  return cuda::tiles::tile_gemm_out(c.data(), m, n, k, batch);
}

}  // namespace

Tensor conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dGeometry& g, Conv2dAlgorithm algorithm) {
  const int64_t K = g.rows(), N = g.cols();
  const Tensor xc = x.detach().contiguous(), wm = weight.detach().contiguous().view({g.O, K});
  Tensor out;
  if (algorithm == Conv2dAlgorithm::ImplicitGemm) {
    out = empty({g.B, g.O, N}, Device::CUDA);
    // A^T = Wm^T: element (k, o) at wm[o K + k], the same for every image.
    const auto wt = cuda::tiles::strided_operand(wm.data(), 1, K, K, g.O, 0, 0, 1);
    cuda::tiles::launch_tile_gemm("conv2d_forward", tf32(), wt, columns(xc, g, false),
                                  gemm_out(out, g.O, N, K, g.B));
  } else {
    out = matmul_cuda(wm, im2col(xc, g), {g.B, g.O, N});  // [O, K] @ [B, K, N]
  }
  if (bias.defined()) out = binary_cuda(BinaryKind::Add, out, bias.detach().view({g.O, 1}), out.shape());
  return out.view({g.B, g.O, g.HO, g.WO});
}

Conv2dGrads conv2d_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                 const Conv2dGeometry& g, bool need_dx, bool need_dw,
                                 bool need_db, Conv2dAlgorithm algorithm) {
  const int64_t K = g.rows(), N = g.cols();
  const Tensor d3 = dout.detach().contiguous().view({g.B, g.O, N});
  Conv2dGrads r;
  if (need_db) r.dbias = reduce_cuda(ReduceKind::Sum, d3, 0b101u, {g.O});  // over b and (i, j)
  if (algorithm == Conv2dAlgorithm::ImplicitGemm) {
    if (need_dw) {
      // Per image [O, N] @ [N, K]; A^T = dout_b^T: element (n, o) at d3[b, o, n].
      const Tensor per_image = empty({g.B, g.O, K}, Device::CUDA);
      const auto dt = cuda::tiles::strided_operand(d3.data(), 1, N, N, g.O, g.O * N, 0, 1);
      cuda::tiles::launch_tile_gemm("conv2d_dweight", tf32(), dt,
                                    columns(x.detach().contiguous(), g, true),
                                    gemm_out(per_image, g.O, K, N, g.B));
      r.dweight = reduce_cuda(ReduceKind::Sum, per_image, 0b001u, {g.O, g.C, g.KH, g.KW});
    }
    if (need_dx) {
      // Per image [C, O KH KW] @ [O KH KW, H W].
      r.dx = empty({g.B, g.C, g.H, g.W}, Device::CUDA);
      const int64_t R = g.O * g.KH * g.KW;
      const Tensor wc = weight.detach().contiguous();
      cuda::tiles::launch_tile_gemm(
          "conv2d_dx", tf32(), WeightsByOutputOperand{wc.data(), g, R, g.C},
          OutputGradOperand{d3.data(), g, R, g.H * g.W}, gemm_out(r.dx, g.C, g.H * g.W, R, g.B));
    }
    return r;
  }
  if (need_dw) {
    const Tensor col = im2col(x.detach().contiguous(), g);
    const Tensor per_image = matmul_cuda(d3, col.transpose(1, 2), {g.B, g.O, K});
    r.dweight = reduce_cuda(ReduceKind::Sum, per_image, 0b001u, {g.O, g.C, g.KH, g.KW});
  }
  if (need_dx) {
    const Tensor wt = weight.detach().contiguous().view({g.O, K}).transpose(0, 1);  // [K, O]
    const Tensor dcol = matmul_cuda(wt, d3, {g.B, K, N});
    if (pointwise(g)) {
      r.dx = dcol.view({g.B, g.C, g.H, g.W});
    } else {
      r.dx = empty({g.B, g.C, g.H, g.W}, Device::CUDA);
      const int64_t n = r.dx.numel();
      if (n > 0)
        MD_LAUNCH(col2im_kernel, cuda::blocks_for(n), cuda::kBlockThreads, 0, dcol.data(), g,
                  r.dx.data(), n);
    }
  }
  return r;
}

}  // namespace mindiff
