// group_norm, layer_norm and group_norm_silu (formulas, derivatives and shapes in norm.h). All
// three run the same CPU kernels (norm_kernels.h), or CUDA launchers (cuda/norm.h: group_norm_silu
// has fused kernels of its own there), on x viewed as a contiguous [B, C, S]; layer norm is the
// geometry of one group of N single-element channels per row.
#include "tensor/ops/norm.h"

#include "cuda/norm.h"
#include "tensor/ops/common.h"
#include "tensor/ops/norm_kernels.h"

namespace mindiff {

namespace {

const OpInfo kGroupNorm("group_norm"), kLayerNorm("layer_norm"),
    kGroupNormSilu("group_norm_silu");

// A contiguous, detached copy (or the tensor itself) whose data() a kernel may index densely;
// undefined stays undefined.
Tensor dense(const Tensor& t) { return t.defined() ? t.detach().contiguous() : t; }

// The differentiable op shared by the three: validates nothing (the callers do), runs the kernels
// on x as [B, C, S], and records `op`.
Tensor affine_norm(const OpInfo& op, const Tensor& x, const NormGeometry& geo,
                   const Tensor& weight, const Tensor& bias, float eps, NormAct act) {
  Tensor xc = dense(x), wc = dense(weight), bc = dense(bias);
  const bool on_cuda = xc.device() == Device::CUDA;
  NormForward f;
  if (on_cuda && act == NormAct::Silu)
    norm_silu_forward_cuda(xc, geo, wc, bc, eps, f.y, f.mean, f.rstd);
  else if (on_cuda)
    norm_forward_cuda(xc, geo, wc, bc, eps, f.y, f.mean, f.rstd);
  else
    f = norm_forward_cpu(xc, geo, wc, bc, eps, act);
  Tensor y = f.y;  // x's shape (xc has it too)
  if (needs_grad({x, weight, bias})) {
    const bool gx = x.requires_grad();
    const bool gw = weight.defined() && weight.requires_grad();
    const bool gb = bias.defined() && bias.requires_grad();
    // What backward keeps: x, the parameters and the [B * G] statistics; never y (for Silu the
    // normalised value is recomputed from x, mean and rstd).
    record(op, y, {x, weight, bias},
           [xc, wc, bc, geo, on_cuda, act, mean = f.mean, rstd = f.rstd, gx, gw, gb,
            w_shape = weight.defined() ? weight.shape() : Shape(),
            b_shape = bias.defined() ? bias.shape() : Shape()](const Tensor& dout) {
             Tensor gc = dense(dout);
             NormGrads g;
             if (on_cuda && act == NormAct::Silu) {
               norm_silu_backward_cuda(gc, xc, geo, wc, bc, mean, rstd, gx, gw, gb, g.dx,
                                       g.dweight, g.dbias);
             } else if (on_cuda) {
               if (gx) g.dx = norm_backward_dx_cuda(gc, xc, geo, wc, mean, rstd);
               if (gw || gb)
                 norm_backward_affine_cuda(gc, xc, geo, mean, rstd, gw, gb, g.dweight, g.dbias);
             } else {
               g = norm_backward_cpu(gc, xc, geo, wc, bc, mean, rstd, act, gx, gw, gb);
             }
             if (gw) g.dweight = g.dweight.view(w_shape);
             if (gb) g.dbias = g.dbias.view(b_shape);
             return std::vector<Tensor>{g.dx, g.dweight, g.dbias};
           });
  }
  return y;
}

// Checks group_norm's arguments (named `op` in messages) and returns x's [B, C, S] geometry.
NormGeometry group_geometry(const char* op, const Tensor& x, int num_groups, const Tensor& weight,
                            const Tensor& bias, float eps) {
  common_device(op, {x, weight, bias});
  const Shape& s = x.shape();
  MD_CHECK(s.ndim() >= 2, op, ": expects x of shape [B, C, H, W], [B, C, L] or [B, C], got ",
           s.str());
  const int64_t C = s[1];
  MD_CHECK(num_groups >= 1 && C % num_groups == 0, op, ": C = ", C, " channels of x ", s.str(),
           " are not divisible into G = ", num_groups, " groups");
  MD_CHECK(eps >= 0.0f, op, ": eps must be non-negative, got ", eps);
  for (const Tensor* t : {&weight, &bias})
    MD_CHECK(!t->defined() || t->shape() == Shape({C}), op, ": ",
             t == &weight ? "weight" : "bias", " of shape ", t->shape().str(), " must be [C] = [",
             C, "] for x ", s.str());
  int64_t S = 1;
  for (int a = 2; a < s.ndim(); ++a) S *= s[a];
  return NormGeometry{s[0], C, num_groups, S};
}

}  // namespace

Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                  float eps) {
  const NormGeometry geo = group_geometry("group_norm", x, num_groups, weight, bias, eps);
  return affine_norm(kGroupNorm, x, geo, weight, bias, eps, NormAct::None);
}

Tensor group_norm_silu(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias,
                       float eps) {
  const NormGeometry geo = group_geometry("group_norm_silu", x, num_groups, weight, bias, eps);
  return affine_norm(kGroupNormSilu, x, geo, weight, bias, eps, NormAct::Silu);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps) {
  common_device("layer_norm", {x, weight, bias});
  const Shape& s = x.shape();
  const int k = normalized_shape.ndim(), lead = s.ndim() - k;
  bool match = k >= 1 && lead >= 0;
  for (int a = 0; match && a < k; ++a) match = s[lead + a] == normalized_shape[a];
  MD_CHECK(match, "layer_norm: normalized_shape ", normalized_shape.str(),
           " does not match the trailing axes of x ", s.str());
  MD_CHECK(eps >= 0.0f, "layer_norm: eps must be non-negative, got ", eps);
  for (const Tensor* t : {&weight, &bias})
    MD_CHECK(!t->defined() || t->shape() == normalized_shape, "layer_norm: ",
             t == &weight ? "weight" : "bias", " of shape ", t->shape().str(),
             " must equal normalized_shape ", normalized_shape.str());
  // Rows of N = numel(normalized_shape) elements, each one group of N single-element channels.
  const int64_t N = normalized_shape.numel();
  const int64_t rows = N == 0 ? 0 : x.numel() / N;
  return affine_norm(kLayerNorm, x, NormGeometry{rows, N, 1, 1}, weight, bias, eps,
                     NormAct::None);
}

}  // namespace mindiff
