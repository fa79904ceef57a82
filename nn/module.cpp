#include "nn/module.h"

#include "tensor/error.h"

namespace mindiff::nn {

namespace {
void check_unique_name(const std::string& name,
                       const std::vector<std::pair<std::string, Tensor>>& params,
                       const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& kids) {
  MD_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: bad name '", name,
           "' (must be non-empty, without '.')");
  for (const auto& p : params) MD_CHECK(p.first != name, "Module: name '", name, "' used twice");
  for (const auto& c : kids) MD_CHECK(c.first != name, "Module: name '", name, "' used twice");
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_unique_name(name, params_, children_);
  MD_CHECK(t.defined() && t.is_leaf(), "Module: parameter '", name, "' must be a leaf tensor");
  t.requires_grad_();
  params_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_unique_name(name, params_, children_);
  MD_CHECK(m != nullptr, "Module: child '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

void Module::visit_parameters(const std::function<void(const std::string&, const Tensor&)>& fn,
                              const std::string& prefix) const {
  for (const auto& [name, t] : params_) fn(prefix + name, t);
  for (const auto& [name, child] : children_) child->visit_parameters(fn, prefix + name + ".");
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  visit_parameters([&](const std::string& n, const Tensor& t) { out.emplace_back(n, t); });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  visit_parameters([&](const std::string&, const Tensor& t) { out.push_back(t); });
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  visit_parameters([&](const std::string&, const Tensor& t) { n += t.numel(); });
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void Module::zero_grad() const {
  visit_parameters([](const std::string&, const Tensor& t) { t.zero_grad(); });
}

void Module::to(Device device) const {
  visit_parameters([device](const std::string&, const Tensor& t) { t.move_to_(device); });
}

}  // namespace mindiff::nn
