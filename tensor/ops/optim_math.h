// Per-element update rules of the optimizers and of the weight EMA, written once for the CPU
// (nn/optim.cpp, nn/ema.cpp) and the CUDA backend. Everything that is the same for all elements
// of a step (learning rate, bias corrections) is computed once on the host, in double, and
// passed in as float constants, so the per-element code is a few multiply-adds.
//
// Notation: p parameter, g its gradient, t = 1, 2, ... the step number of this parameter,
// lr learning rate, wd weight decay.
#pragma once
#include <cmath>

#include "tensor/device.h"

namespace mindiff {

// ---- SGD with momentum (the PyTorch form, dampening 0) ----
//   g' = g + wd p                         (L2 penalty folded into the gradient)
//   b  = mu b + g'                        (momentum buffer; b starts at 0, so b_1 = g'_1)
//   d  = g' + mu b  (Nesterov)  or  b     (heavy ball)
//   p  = p - lr d
// With mu = 0 this is plain gradient descent and b is not touched.
struct SgdConsts {
  float lr;
  float momentum;
  float weight_decay;
  bool nesterov;
};

MD_HOST_DEVICE void sgd_update_f(float& p, float g, float& buf, const SgdConsts& c) {
  if (c.weight_decay != 0.0f) g += c.weight_decay * p;
  if (c.momentum != 0.0f) {
    buf = c.momentum * buf + g;
    g = c.nesterov ? g + c.momentum * buf : buf;
  }
  p -= c.lr * g;
}

// ---- Adam and AdamW (Kingma & Ba 2015, Algorithm 1; Loshchilov & Hutter 2019, Algorithm 2) ----
//   Adam:  g' = g + wd p                  (L2 penalty, coupled to the adaptive scaling)
//   AdamW: p  = p (1 - lr wd)             (decoupled decay, applied before the Adam step,
//                                          as PyTorch's AdamW does)
//   m = b1 m + (1 - b1) g'                first moment (exp_avg)
//   v = b2 v + (1 - b2) g'^2              second moment (exp_avg_sq)
//   m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)     bias corrections
//   p = p - lr m_hat / (sqrt(v_hat) + eps)
struct AdamConsts {
  float lr;
  float beta1;
  float beta2;
  float eps;
  float weight_decay;
  float bias_correction1;  // 1 - b1^t, computed in double on the host
  float bias_correction2;  // 1 - b2^t
  bool decoupled;          // true: AdamW decay; false: L2 added to the gradient
};

MD_HOST_DEVICE void adam_update_f(float& p, float g, float& m, float& v, const AdamConsts& c) {
  if (c.weight_decay != 0.0f) {
    if (c.decoupled)
      p *= 1.0f - c.lr * c.weight_decay;
    else
      g += c.weight_decay * p;
  }
  m = c.beta1 * m + (1.0f - c.beta1) * g;
  v = c.beta2 * v + (1.0f - c.beta2) * g * g;
  float m_hat = m / c.bias_correction1;
  float v_hat = v / c.bias_correction2;
  p -= c.lr * m_hat / (sqrtf(v_hat) + c.eps);
}

// ---- exponential moving average of a weight ----
//   s = d s + (1 - d) p,  evaluated as  s = s + (1 - d)(p - s)
// The second form is the same number in exact arithmetic, but in float it keeps s == p exactly
// when the weight stops moving, and it takes 1 - d computed in double on the host: for
// d = 0.9999, 1 - (float)d would be 1.00017e-4, off by 0.017%.
MD_HOST_DEVICE void ema_update_f(float& shadow, float p, float one_minus_decay) {
  shadow += one_minus_decay * (p - shadow);
}

// ---- Clipping by global norm (PyTorch's clip_grad_norm_) ----
// The factor every tensor is multiplied by, given the global norm (computed in double): 1 when
// the norm is at most max_norm or not finite (the caller sees it and can skip the step), else
// max_norm / (norm + 1e-6). `norm <= DBL_MAX` is false for infinity and NaN alike.
MD_HOST_DEVICE float clip_factor(double norm, float max_norm) {
  const bool finite = norm <= 1.7976931348623157e308;
  return finite && norm > max_norm ? static_cast<float>(max_norm / (norm + 1e-6)) : 1.0f;
}

}  // namespace mindiff
