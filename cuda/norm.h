// CUDA launchers of group_norm and layer_norm (tensor/ops/norm.cpp; formulas in norm.h). x and
// dout are dense [B, C, S] (contiguous); G groups of Cg = C / G channels; weight and bias [C] or
// undefined; mean and rstd [B * G].
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

}  // namespace mindiff
