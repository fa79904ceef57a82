#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>
#include <unordered_set>

#include "tensor/device_backend.h"

namespace mindiff {

namespace {

std::set<std::string>& checked_registry() {
  static std::set<std::string> names;
  return names;
}

// sum_i w_i * out_i, accumulated in double.
double project(const Tensor& out, const std::vector<float>& w) {
  std::vector<float> v = out.to_vector();
  double s = 0.0;
  for (size_t i = 0; i < v.size(); ++i) s += static_cast<double>(w[i]) * v[i];
  return s;
}

bool graph_contains(const Tensor& out, const std::string& op_name) {
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  if (out.grad_fn()) stack.push_back(out.grad_fn().get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (op_name == n->op->name) return true;
    for (const Tensor& in : n->inputs)
      if (in.defined() && in.grad_fn()) stack.push_back(in.grad_fn().get());
  }
  return false;
}

// Storage offsets of t's elements in logical row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  offs.reserve(static_cast<size_t>(t.numel()));
  Shape s = t.shape();
  std::vector<int64_t> idx(static_cast<size_t>(s.ndim()), 0);
  for (int64_t k = 0; k < t.numel(); ++k) {
    int64_t off = 0;
    for (int a = 0; a < s.ndim(); ++a) off += idx[a] * t.strides()[a];
    offs.push_back(off);
    for (int a = s.ndim() - 1; a >= 0; --a) {
      if (++idx[a] < s[a]) break;
      idx[a] = 0;
    }
  }
  return offs;
}

}  // namespace

const std::set<std::string>& gradchecked_ops() { return checked_registry(); }

namespace {

// One element of an input where it lives: host memory, or the CUDA device's (one copy each way).
float read_element(const float* p, bool on_device) {
  if (!on_device) return *p;
  float v;
  cuda::copy_to_host(&v, p, sizeof v);
  return v;
}
void write_element(float* p, float v, bool on_device) {
  if (on_device)
    cuda::copy_to_device(p, &v, sizeof v);
  else
    *p = v;
}

}  // namespace

GradcheckResult gradcheck(const std::string& op_name,
                          const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  GradcheckResult result;
  auto fail = [&](const std::string& why) {
    result.ok = false;
    result.message = "gradcheck(" + op_name + "): " + why;
    return result;
  };
  MD_CHECK(registered_ops().count(op_name), "gradcheck: '", op_name, "' is not a registered op");
  checked_registry().insert(op_name);

  for (const Tensor& x : inputs) {
    if (!x.requires_grad()) continue;
    MD_CHECK(x.is_leaf(), "gradcheck: inputs that require grad must be leaves");
    for (int a = 0; a < x.ndim(); ++a)
      MD_CHECK(x.strides()[a] != 0 || x.shape()[a] == 1,
               "gradcheck: an input with overlapping (expanded) elements cannot be perturbed");
    x.zero_grad();
  }

  // Analytic: one backward pass with dout = w.
  Tensor out = f(inputs);
  if (!graph_contains(out, op_name)) return fail("the op does not appear in f's graph");
  Tensor w = randn(out.shape(), opts.seed);
  std::vector<float> wv = w.to_vector();
  out.backward(w);

  // Numeric: central differences, one element at a time, under no-grad.
  NoGradGuard no_grad;
  std::ostringstream worst;
  double worst_excess = -1.0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    std::vector<float> analytic =
        x.grad().defined() ? x.grad().to_vector() : std::vector<float>(x.numel(), 0.0f);
    std::vector<int64_t> offs = element_offsets(x);
    float* base = x.data();  // host or device memory: read and written through element_at
    const int64_t n = static_cast<int64_t>(offs.size());
    const int64_t checked = opts.max_elements_per_input > 0 && opts.max_elements_per_input < n
                                ? opts.max_elements_per_input
                                : n;
    for (int64_t c = 0; c < checked; ++c) {
      const size_t k = static_cast<size_t>(checked > 1 ? c * (n - 1) / (checked - 1) : 0);
      const bool on_device = x.device() == Device::CUDA;
      const float saved = read_element(base + offs[k], on_device);
      write_element(base + offs[k], static_cast<float>(saved + opts.eps), on_device);
      double lp = project(f(inputs), wv);
      write_element(base + offs[k], static_cast<float>(saved - opts.eps), on_device);
      double lm = project(f(inputs), wv);
      write_element(base + offs[k], saved, on_device);
      double numeric = (lp - lm) / (2.0 * opts.eps);
      double err = std::fabs(analytic[k] - numeric);
      double excess = err - (opts.atol + opts.rtol * std::fabs(numeric));
      if (!std::isfinite(analytic[k]) || !std::isfinite(numeric)) excess = INFINITY;
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (excess > worst_excess) {
        worst_excess = excess;
        worst.str("");
        worst << "input " << i << " " << x.shape().str() << " element " << k << ": analytic "
              << analytic[k] << ", numeric " << numeric << ", |diff| " << err;
      }
    }
  }
  if (worst_excess > 0.0) return fail("gradients disagree; worst at " + worst.str());
  result.message = "max |analytic - numeric| = " + std::to_string(result.max_abs_error);
  return result;
}

}  // namespace mindiff
