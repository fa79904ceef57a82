// 2-D convolution of a batch of images (cross-correlation, as in PyTorch), with zero padding.
//
// Shapes: x [B, C, H, W], weight [O, C, KH, KW], bias [O] or an undefined Tensor() for none
//   -> out [B, O, HO, WO],  HO = (H + 2P - KH) / S + 1,  WO = (W + 2P - KW) / S + 1
// with S = stride and P = padding, the same along both spatial axes. Writing
// ih = i*S - P + kh and iw = j*S - P + kw (x reads as 0 outside the image):
//
//   out[b, o, i, j] = bias[o] + sum_{c, kh, kw} weight[o, c, kh, kw] * x[b, c, ih, iw]
//
// Derivative (each output is linear in x, in weight and in bias):
//   dx[b, c, ih, iw]        = sum over (o, kh, kw, i, j) reaching (ih, iw) of weight[o,c,kh,kw] dout[b,o,i,j]
//   dweight[o, c, kh, kw]   = sum_{b, i, j} dout[b, o, i, j] * x[b, c, ih, iw]
//   dbias[o]                = sum_{b, i, j} dout[b, o, i, j]
//
// All of it is im2col + sgemm. With col_b[(c, kh, kw), (i, j)] = x[b, c, ih, iw], a
// [C*KH*KW, HO*WO] matrix per image, and weight read as Wm [O, C*KH*KW]:
//   out_b = Wm @ col_b (+ bias),   dweight = sum_b dout_b @ col_b^T,
//   dx_b = col2im(Wm^T @ dout_b)   (col2im adds each column entry back onto its pixel).
//
// The CPU computes it in one of three rungs, each the rung below plus one idea, in files of
// their own (conv2d_kernels.h says what each rung does where):
//   1  conv2d_im2col.cpp         the formulas above as written: im2col into a buffer, sgemm
//   2  conv2d_gathered.cpp       col_b never written: sgemm reads it in place from the padded
//                                image through offset tables; dx as a convolution of dout
//   3  conv2d_channels_last.cpp  several small images per product, channels as its columns
// Rung 3 is the default. MINDIFF_CONV=1, 2 or 3 in the environment picks the rung for a whole
// run (train, sample, `make bench`, the tests), e.g. `MINDIFF_CONV=1 make bench BENCH_ARGS=
// "--case unet"` times the U-Net on the plain route. The rungs differ only in rounding.
// On CUDA, cuda/conv2d.cu runs the plain route (im2col, then its matmul kernel).
#pragma once
#include "tensor/ops/conv2d_geometry.h"
#include "tensor/tensor.h"

namespace mindiff {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              int stride = 1, int padding = 0);

// The rung of the CPU ladder conv2d runs: MINDIFF_CONV when set (an error names a bad value),
// else kConv2dFastestRung. set_conv2d_cpu_rung changes it for the rest of the process (tests
// and benchmarks; not while a convolution runs).
constexpr int kConv2dFastestRung = 3;
int conv2d_cpu_rung();
void set_conv2d_cpu_rung(int rung);

// The same definition as plain direct loops summed in double (no autograd): the oracle rung 1
// is tested against. Inputs may be any views.
Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                        int padding);
// Direct loops of the three derivative formulas above, for dout [B, O, HO, WO].
Conv2dGrads conv2d_backward_reference(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                      int stride, int padding);

}  // namespace mindiff
