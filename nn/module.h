// Module: a network part that owns parameters and sub-modules under names, so that every
// parameter has a stable hierarchical name ("down.3.res.conv1.weight") and a fixed visiting
// order (registration order, depth first). Forward passes are ordinary member functions with
// whatever arguments the module needs; there is no virtual forward.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter with its full name, in registration order, depth first.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;  // total element count
  // Calls fn(name, tensor) for every parameter, in the same order as named_parameters().
  void visit_parameters(const std::function<void(const std::string&, const Tensor&)>& fn,
                        const std::string& prefix = "") const;

  // Training mode (dropout active) or evaluation mode, for this module and all below it.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  void zero_grad() const;  // clears the .grad of every parameter
  // Moves every parameter to `device` in place (Tensor::move_to_), so the members that hold
  // them see the move. Create optimizers and EMAs after moving the model.
  void to(Device device) const;

 protected:
  // Registers a leaf tensor as a parameter (marks it requires_grad) and returns it.
  Tensor register_parameter(const std::string& name, Tensor t);
  // Registers a child module; its parameters appear under "name.".
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A list of sub-modules named "0", "1", ... in the order they are added (the ".3." in
// "down.3.res.conv1.weight"). Holds them as the base type; callers keep typed pointers as needed.
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    items_.push_back(m);
    return register_module(std::to_string(items_.size() - 1), std::move(m));
  }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return items_[i]; }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

}  // namespace mindiff::nn
