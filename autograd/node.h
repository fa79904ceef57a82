// The autograd graph. Each op that produces a tensor from inputs that require grad records a
// Node on its output: the op's identity, its inputs, and a backward function that maps the
// gradient of the output to the gradients of the inputs. The graph is built as the program runs
// (a dynamic graph) and walked once, in reverse topological order, by backward().
#pragma once
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

// One differentiable primitive. Declare one per op at namespace scope in the op's .cpp file:
//   static const OpInfo kExpOp("exp");
// Construction registers the name, so the test suite can check that every registered op has a
// finite-difference gradient check (tests/main.cpp).
struct OpInfo {
  explicit OpInfo(const char* op_name);
  const char* name;
};
const std::set<std::string>& registered_ops();

// Maps d(loss)/d(output) to d(loss)/d(input_i), one entry per input, each of the input's shape
// (an undefined Tensor where an input needs no gradient). Runs with gradient recording off.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& dout)>;

struct Node {
  const OpInfo* op;
  std::vector<Tensor> inputs;
  BackwardFn backward;  // released after use, so a graph is walked once
};

// ---- gradient mode ----
bool grad_enabled();
// While alive, gradient mode is `enabled`; the mode before it comes back at the end of scope.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
// While alive, ops record nothing (sampling, evaluation, optimizer updates, backward itself).
struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};
// While alive, ops record again, inside a NoGradGuard: for a gradient a sampler needs (the
// energy's grad f of diffusion/energy.h) in the middle of a loop that records nothing.
struct EnableGradGuard : GradModeGuard {
  EnableGradGuard() : GradModeGuard(true) {}
};

// True when gradient mode is on and at least one of the inputs requires grad: the op should
// record a node. Ops test this before capturing anything for backward.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a new node to `out` (which becomes a non-leaf that requires grad).
// Tensors the backward function needs must be captured detached (x.detach()), never the output
// itself with its grad_fn, or the node would keep itself alive.
void record(const OpInfo& op, const Tensor& out, std::vector<Tensor> inputs, BackwardFn backward);

// Reverse-mode differentiation (Tensor::backward calls this with keep_graph false).
// Gradients accumulate (+=) into the .grad of every leaf that requires grad. Unless keep_graph,
// the walked graph is released as it goes, so a second backward through it is an error.
void run_backward(const Tensor& root, const Tensor& dout, bool keep_graph = false);

}  // namespace mindiff
