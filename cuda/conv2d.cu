// conv2d on the GPU (see conv2d.h): im2col, then the matmul kernel of cuda/matmul.cu (v3,
// register-blocked), as on the CPU.
//
// With K = C KH KW and N = HO WO, the columns of image b form col_b [K, N]:
//   col[b, (c KH + kh) KW + kw, i WO + j] = x[b, c, i S - P + kh, j S - P + kw]  (0 outside)
// and with Wm = weight viewed [O, K]:
//   out_b = Wm @ col_b + bias            one batched product [O, K] @ [B, K, N] -> [B, O, N]
//   dweight = sum_b dout_b @ col_b^T     a batched product [B, O, N] @ [B, N, K], then a sum
//                                        over b (reduce kernel): no atomics, deterministic
//   dcol_b = Wm^T @ dout_b,  dx = col2im(dcol)
//   dbias = sum over b, i, j of dout     reduce kernel
// col2im is written as a gather: each thread owns one pixel of dx and adds up the (kh, kw)
// entries of dcol that came from it, in the CPU's order. Scattering (a thread per dcol entry,
// atomicAdd into dx) would need atomics and give run-to-run differences in the last bit.
// A 1x1 kernel with stride 1 and no padding needs no im2col: col_b is x_b itself.
#include "cuda/conv2d.h"

#include "cuda/elementwise.h"
#include "cuda/kernel.h"
#include "cuda/matmul.h"
#include "cuda/reduce.h"
#include "cuda/strided.h"

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

}  // namespace

Tensor conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dGeometry& g) {
  const int64_t K = g.rows(), N = g.cols();
  const Tensor xc = x.detach().contiguous(), wm = weight.detach().contiguous().view({g.O, K});
  Tensor out = matmul_cuda(wm, im2col(xc, g), {g.B, g.O, N});  // [O, K] @ [B, K, N]
  if (bias.defined()) out = binary_cuda(BinaryKind::Add, out, bias.detach().view({g.O, 1}), out.shape());
  return out.view({g.B, g.O, g.HO, g.WO});
}

Conv2dGrads conv2d_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                 const Conv2dGeometry& g, bool need_dx, bool need_dw,
                                 bool need_db) {
  const int64_t K = g.rows(), N = g.cols();
  const Tensor d3 = dout.detach().contiguous().view({g.B, g.O, N});
  Conv2dGrads r;
  if (need_db) r.dbias = reduce_cuda(ReduceKind::Sum, d3, 0b101u, {g.O});  // over b and (i, j)
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
