// CUDA launchers of group_norm, layer_norm and the fused group_norm_silu (tensor/ops/norm.cpp;
// formulas in tensor/ops/norm.h). x and dout are dense [B, C, S] (contiguous); G groups of
// Cg = C / G channels; weight and bias [C] or undefined; mean and rstd [B * G].
#pragma once
#include "tensor/ops/norm_geometry.h"
#include "tensor/tensor.h"

namespace mindiff {

void norm_forward_cuda(const Tensor& x, const NormGeometry& g, const Tensor& weight,
                       const Tensor& bias, float eps, Tensor& y, Tensor& mean, Tensor& rstd);
Tensor norm_backward_dx_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                             const Tensor& weight, const Tensor& mean, const Tensor& rstd);
// dweight and dbias [C] (each only when wanted).
void norm_backward_affine_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                               const Tensor& mean, const Tensor& rstd, bool want_dw, bool want_db,
                               Tensor& dweight, Tensor& dbias);


// group_norm_silu: y = silu(xhat * w[c] + b[c]) in one kernel (the statistics as norm_forward_cuda's).
void norm_silu_forward_cuda(const Tensor& x, const NormGeometry& g, const Tensor& weight,
                            const Tensor& bias, float eps, Tensor& y, Tensor& mean, Tensor& rstd);
// Its backward from x and the saved mean and rstd (pre and silu' recomputed, bias read for pre):
// dx like x, dweight and dbias [C], each set only when wanted.
void norm_silu_backward_cuda(const Tensor& dout, const Tensor& x, const NormGeometry& g,
                             const Tensor& weight, const Tensor& bias, const Tensor& mean,
                             const Tensor& rstd, bool want_dx, bool want_dw, bool want_db,
                             Tensor& dx, Tensor& dweight, Tensor& dbias);

}  // namespace mindiff
