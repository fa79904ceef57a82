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
// The fast path is im2col + sgemm. With col_b[(c, kh, kw), (i, j)] = x[b, c, ih, iw], a
// [C*KH*KW, HO*WO] matrix per image, and weight read as Wm [O, C*KH*KW]:
//   out_b = Wm @ col_b (+ bias),   dweight = sum_b dout_b @ col_b^T,
//   dx_b = col2im(Wm^T @ dout_b)   (col2im adds each column entry back onto its pixel).
#pragma once
#include "tensor/tensor.h"

namespace mindiff {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              int stride = 1, int padding = 0);

// The same definition as plain direct loops summed in double (no autograd): the reference the
// fast path is tested against. Inputs may be any views.
Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                        int padding);

struct Conv2dGrads {
  Tensor dx, dweight, dbias;
};
// Direct loops of the three derivative formulas above, for dout [B, O, HO, WO].
Conv2dGrads conv2d_backward_reference(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                      int stride, int padding);

}  // namespace mindiff
