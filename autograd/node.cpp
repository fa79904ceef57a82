#include "autograd/node.h"

namespace mindiff {

namespace {
// A function-local static avoids the static-initialisation-order problem: OpInfo objects in
// other files register themselves during static initialisation.
std::set<std::string>& op_registry() {
  static std::set<std::string> names;
  return names;
}
thread_local bool g_grad_enabled = true;
}  // namespace

OpInfo::OpInfo(const char* op_name) : name(op_name) { op_registry().insert(op_name); }
const std::set<std::string>& registered_ops() { return op_registry(); }

bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const OpInfo& op, const Tensor& out, std::vector<Tensor> inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = &op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

}  // namespace mindiff
