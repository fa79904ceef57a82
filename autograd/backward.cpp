// backward(): topological sort of the recorded graph, then one reverse sweep.
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "autograd/node.h"

namespace mindiff {

namespace {

// A gradient src arriving for a tensor whose gradient so far is dst must live on its device.
void check_same_device(const Tensor& dst, const Tensor& src) {
  MD_CHECK(dst.device() == src.device(), "backward: gradient on ", device_name(src.device()),
           " for a tensor on ", device_name(dst.device()));
}

// dst += src elementwise (shapes equal; dst contiguous and owned by autograd).
void accumulate_into(const Tensor& dst, const Tensor& src) {
  check_same_device(dst, src);
  dst.add_(src);
}

// Gradients handed out by backward functions may alias each other (add's backward returns dout
// for both inputs) or what a backward function keeps, so autograd mutates a gradient in place
// only when nothing else can see it: this handle is the only one to its tensor and to its
// storage, and it is contiguous (no element stands for several).
bool sole_owner(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous();
}

// g as a gradient autograd may mutate: g itself when it is the sole owner of its memory (most
// are: a backward function's fresh result), else a contiguous copy.
Tensor owned(Tensor g) {
  if (sole_owner(g)) return g;
  Tensor c = empty(g.shape(), g.device());
  c.copy_(g);
  return c;
}

// sum + g for two gradient contributions to one tensor (each element a + b, rounded once): into
// whichever of the two autograd owns (a + b = b + a, bit for bit), else into a copy of sum.
Tensor add_contribution(Tensor sum, Tensor g) {
  check_same_device(sum, g);
  if (!sole_owner(sum) && sole_owner(g)) std::swap(sum, g);
  sum = owned(std::move(sum));
  sum.add_(g);
  return sum;
}

// Nodes reachable from `root`, ordered so that every node comes before the nodes of its inputs.
// Owning pointers: releasing a node's inputs during the sweep must not free nodes still queued.
std::vector<std::shared_ptr<Node>> reverse_topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post;  // post-order: inputs before consumers
  std::unordered_set<Node*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};  // (node, next input)
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (!in.defined() || !in.grad_fn()) continue;
      const std::shared_ptr<Node>& child = in.grad_fn();
      if (seen.insert(child.get()).second) stack.push_back({child, 0});  // may move `node`
    } else {
      post.push_back(node);
      stack.pop_back();
    }
  }
  return std::vector<std::shared_ptr<Node>>(post.rbegin(), post.rend());
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& dout, bool keep_graph) {
  MD_CHECK(root.requires_grad(), "backward: the tensor does not require grad (no input of the ",
           "computation was marked with requires_grad_, or it ran under NoGradGuard)");
  Tensor seed = dout;
  if (!seed.defined()) {
    MD_CHECK(root.numel() == 1, "backward: the gradient can be implied only for a one-element ",
             "tensor; this one has shape ", root.shape().str(), ", pass dout");
    seed = ones(root.shape(), root.device());
  }
  MD_CHECK(seed.shape() == root.shape(), "backward: dout of shape ", seed.shape().str(),
           " for a tensor of shape ", root.shape().str());

  NoGradGuard no_grad;  // backward functions use ops; they must not record

  // d(root)/d(leaf) accumulates into leaf.grad, which autograd owns and may mutate.
  auto accumulate_leaf = [](const Tensor& leaf, Tensor g) {
    if (leaf.impl()->grad)
      accumulate_into(leaf.grad(), g);
    else
      leaf.impl()->grad = owned(std::move(g)).impl_ptr();
  };
  if (root.is_leaf()) {
    accumulate_leaf(root, seed);
    return;
  }

  // Pending gradient of each node's output: summed into in place only where autograd is its sole
  // owner (add_contribution), since it may be a tensor some backward function also returned
  // elsewhere.
  std::unordered_map<Node*, Tensor> pending;
  pending[root.grad_fn().get()] = seed;
  for (const std::shared_ptr<Node>& node_ptr : reverse_topological_order(root.grad_fn())) {
    Node* node = node_ptr.get();
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient flows to this node
    Tensor g = std::move(it->second);
    pending.erase(it);
    MD_CHECK(node->backward, "backward: the graph through '", node->op->name,
             "' was already used by an earlier backward(); recompute the forward pass");
    std::vector<Tensor> grads = node->backward(g);
    MD_CHECK(grads.size() == node->inputs.size(), "backward of '", node->op->name, "' returned ",
             grads.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      Tensor& gi = grads[i];
      if (!in.defined() || !in.requires_grad() || !gi.defined()) continue;
      MD_CHECK(gi.shape() == in.shape(), "backward of '", node->op->name, "' returned a gradient of ",
               "shape ", gi.shape().str(), " for input ", i, " of shape ", in.shape().str());
      if (in.is_leaf()) {
        accumulate_leaf(in, std::move(gi));  // moved: a sole owner is adopted, not copied
      } else {
        Node* child = in.grad_fn().get();
        auto [slot, first] = pending.try_emplace(child, gi);
        if (!first)  // the tensor feeds several ops: sum the contributions
          slot->second = add_contribution(std::move(slot->second), std::move(gi));
      }
    }
    if (!keep_graph) {
      node->backward = nullptr;  // frees what the forward pass saved for backward
      node->inputs.clear();
    }
  }
}

void Tensor::backward(const Tensor& dout) const { run_backward(*this, dout); }

}  // namespace mindiff
