// Finite-difference gradient checking: the test of every differentiable op.
//
// For a function f of tensors, with a fixed random projection w of its output, the scalar
// L(x) = sum_i w_i f(x)_i is differentiated twice:
//   analytic: one backward() pass with dout = w, giving J^T w for every input;
//   numeric:  central differences (L(x + eps e_k) - L(x - eps e_k)) / (2 eps) for every
//             element k of every input that requires grad, with L summed in double.
// A random w makes it unlikely that an error in the Jacobian hides in w's null space.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "autograd/node.h"

namespace mindiff {

struct GradcheckOptions {
  // Step of the central difference. float32 forward passes carry a relative rounding error of
  // ~1e-7 per value, which the difference amplifies by 1/eps; the truncation error is
  // ~eps^2/6 * |f'''|. 1e-2 balances the two for the smooth ops here (both near 1e-5).
  double eps = 1e-2;
  // Agreement: |analytic - numeric| <= atol + rtol * |numeric| for every element. Measured
  // errors on correct ops are ~1e-5..1e-4; a wrong derivative (a missing term or factor)
  // is off by O(1) relative, far outside this.
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 20260101;  // for the projection w
  // When > 0, check at most this many elements of each input, evenly spaced through it (first
  // and last included): for inputs too large to perturb one by one, such as a network's weights.
  int64_t max_elements_per_input = 0;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the worst element and its values, or what went wrong
  double max_abs_error = 0.0;
  explicit operator bool() const { return ok; }
};

// Checks d/d(inputs) of f at `inputs` (each input that requires grad must be a leaf whose
// elements do not overlap in memory; non-contiguous views are fine). `op_name` must be a
// registered op that appears in f's graph; it is marked as covered by a gradient check.
GradcheckResult gradcheck(const std::string& op_name,
                          const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

// Names of the ops that gradcheck() has been called for in this process.
const std::set<std::string>& gradchecked_ops();

}  // namespace mindiff
