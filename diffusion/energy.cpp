// The built-in energies of energy.h: f as differentiable ops, exact samplers, and the length
// scales their step rules use (each derived in the comment beside it).
#include "diffusion/energy.h"

#include <algorithm>
#include <cmath>

namespace mindiff::diffusion {

namespace {

// Column j of x [B, D] as a [B] tensor (a differentiable view).
Tensor column(const Tensor& x, int64_t j) {
  return x.slice(1, j, j + 1).reshape(Shape({x.size(0)}));
}

// [n, 2] rows fn(a_i, b_i) of n pairs of independent standard normals drawn from `seed`.
template <class Fn>
Tensor from_two_normals(int64_t n, uint64_t seed, Fn fn) {
  Generator gen(seed);
  const std::vector<float> a = randn(Shape({n}), gen).to_vector();
  const std::vector<float> b = randn(Shape({n}), gen).to_vector();
  std::vector<float> v(2 * n);
  for (int64_t i = 0; i < n; ++i) fn(a[i], b[i], v[2 * i], v[2 * i + 1]);
  return from_data(v, Shape({n, 2}));
}

// [n, 2] from two columns of n values.
Tensor stack2(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> v(2 * a.size());
  for (size_t i = 0; i < a.size(); ++i) v[2 * i] = a[i], v[2 * i + 1] = b[i];
  return from_data(v, Shape({static_cast<int64_t>(a.size()), 2}));
}

class DoubleWell : public Energy {
 public:
  static constexpr double kBarrier = 2.0;  // h: f(0, x2) - f(+-1, x2), in nats
  std::string name() const override { return "double-well"; }
  int64_t dim() const override { return 2; }
  Tensor f(const Tensor& x) const override {
    const Tensor x1 = column(x, 0), x2 = column(x, 1);
    return square(square(x1) - 1.0f) * static_cast<float>(kBarrier) + square(x2) * 0.5f;
  }
  // d^2 f / dx1^2 = h (12 x1^2 - 4): 46 at |x1| = 1.5, beyond which lies 0.4% of the mass; so
  // s = 1 / sqrt(46). The slowest direction is x2 (std 1) -- apart from crossing the barrier,
  // which takes a time of order e^h and which no step rule shortens.
  double smallest_scale() const override { return 1.0 / std::sqrt(kBarrier * (12 * 2.25 - 4)); }
  double largest_scale() const override { return 1.0; }
  double start_std() const override { return 1.0; }
  std::string summary() const override {
    return "f = 2 (x1^2 - 1)^2 + x2^2 / 2: two wells at x1 = +-1, a barrier of 2 nats";
  }
  // x2 ~ N(0, 1); x1 by inverting the cumulative integral of e^{-h (x1^2 - 1)^2}, tabulated by
  // the trapezoid rule on [-3, 3] (the mass outside is below e^{-120}) and interpolated linearly.
  Tensor exact_samples(int64_t n, uint64_t seed) const override {
    constexpr int kGrid = 20001;
    constexpr double kEdge = 3.0;
    std::vector<double> x(kGrid), cdf(kGrid, 0.0);
    auto density = [](double v) { return std::exp(-kBarrier * (v * v - 1) * (v * v - 1)); };
    for (int i = 0; i < kGrid; ++i) x[i] = -kEdge + 2 * kEdge * i / (kGrid - 1);
    for (int i = 1; i < kGrid; ++i)
      cdf[i] = cdf[i - 1] + 0.5 * (density(x[i - 1]) + density(x[i])) * (x[i] - x[i - 1]);
    for (double& c : cdf) c /= cdf.back();
    Generator gen(seed);
    const std::vector<float> u = rand(Shape({n}), gen).to_vector();
    const std::vector<float> z = randn(Shape({n}), gen).to_vector();
    std::vector<float> x1(n);
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = std::min<size_t>(
          std::max<size_t>(std::lower_bound(cdf.begin(), cdf.end(), double(u[i])) - cdf.begin(), 1),
          kGrid - 1);
      const double w = (u[i] - cdf[k - 1]) / std::max(cdf[k] - cdf[k - 1], 1e-300);
      x1[i] = static_cast<float>(x[k - 1] + w * (x[k] - x[k - 1]));
    }
    return stack2(x1, z);
  }
};

class Funnel : public Energy {
 public:
  static constexpr double kNeckStd = 3.0;  // std of v = x2 (Neal's choice)
  std::string name() const override { return "funnel"; }
  int64_t dim() const override { return 2; }
  Tensor f(const Tensor& x) const override {
    const Tensor x1 = column(x, 0), v = column(x, 1);
    return square(v) * static_cast<float>(0.5 / (kNeckStd * kNeckStd)) + v * 0.5f +
           square(x1) * exp(-v) * 0.5f;
  }
  // d^2 f / dx1^2 = e^{-v}: e^3 at v = -3, one standard deviation down the neck. Below that the
  // default step is too large (the chain oversteps the neck's walls and sees too little of it):
  // Neal's funnel has no step size that suits both ends, which is what it is here to show.
  double smallest_scale() const override { return std::exp(-0.5 * kNeckStd); }
  // x1's std at v = +3, one standard deviation up the mouth: e^{3/2}.
  double largest_scale() const override { return std::exp(0.5 * kNeckStd); }
  double start_std() const override { return 1.0; }
  std::string summary() const override {
    return "Neal's funnel: x2 ~ N(0, 9), x1 | x2 ~ N(0, e^x2)";
  }
  Tensor exact_samples(int64_t n, uint64_t seed) const override {
    return from_two_normals(n, seed, [](float a, float b, float& x1, float& v) {
      v = static_cast<float>(kNeckStd * a);
      x1 = static_cast<float>(std::exp(0.5 * v) * b);
    });
  }
};

class Banana : public Energy {
 public:
  std::string name() const override { return "banana"; }
  int64_t dim() const override { return 2; }
  Tensor f(const Tensor& x) const override {
    const Tensor x1 = column(x, 0), x2 = column(x, 1);
    return square(x1) * 0.125f + square(x2 - square(x1) * 0.25f + 1.0f) * 2.0f;
  }
  // With u = x2 - x1^2/4 + 1, f = x1^2/8 + 2 u^2 has Hessian diag(1/4, 0) + 4 grad u grad u^T
  // + 4 u diag(-1/2, 0), whose largest eigenvalue is about 4 |grad u|^2 = 4 (1 + x1^2 / 4):
  // 20 at |x1| = 4, two standard deviations out. The slowest direction is x1 (std 2).
  double smallest_scale() const override { return 1.0 / std::sqrt(20.0); }
  double largest_scale() const override { return 2.0; }
  double start_std() const override { return 1.0; }
  std::string summary() const override {
    return "banana: x1 ~ N(0, 4), x2 | x1 ~ N(x1^2 / 4 - 1, 1/4)";
  }
  Tensor exact_samples(int64_t n, uint64_t seed) const override {
    return from_two_normals(n, seed, [](float a, float b, float& x1, float& x2) {
      x1 = 2.0f * a;
      x2 = x1 * x1 * 0.25f - 1.0f + 0.5f * b;
    });
  }
};

}  // namespace

// -grad f by reverse mode: the rows of f(x) are independent, so the gradient of their sum is
// grad f(x_b) in row b. Gradients are switched on for this alone (samplers run without them).
Tensor Energy::score(const Tensor& x) const {
  MD_CHECK(x.ndim() == 2 && x.size(1) == dim(), name(), ": x must be [B, ", dim(), "], got ",
           x.shape().str());
  EnableGradGuard grad;
  Tensor leaf = x.detach().to(Device::CPU).contiguous().detach();
  leaf.requires_grad_();
  const Tensor total = sum(f(leaf));
  run_backward(total, ones(total.shape()));
  const Tensor g = leaf.grad();
  MD_CHECK(g.defined(), name(), ": f does not depend on x");
  NoGradGuard no_grad;
  return (-g.detach()).to(x.device());
}

std::vector<double> Energy::log_density(const Tensor& x) const {
  MD_CHECK(x.ndim() == 2 && x.size(1) == dim(), name(), ": x must be [B, ", dim(), "], got ",
           x.shape().str());
  NoGradGuard no_grad;
  const std::vector<float> fx = f(x.detach().to(Device::CPU)).to_vector();
  std::vector<double> out(fx.size());
  for (size_t i = 0; i < fx.size(); ++i) out[i] = -static_cast<double>(fx[i]);
  return out;
}

const std::vector<std::string>& energy_names() {
  static const std::vector<std::string> names = {"double-well", "funnel", "banana"};
  return names;
}

std::shared_ptr<const Energy> make_energy(const std::string& name) {
  if (name == "double-well") return std::make_shared<DoubleWell>();
  if (name == "funnel") return std::make_shared<Funnel>();
  if (name == "banana") return std::make_shared<Banana>();
  std::string list;
  for (const std::string& n : energy_names()) list += (list.empty() ? "" : ", ") + n;
  throw Error("unknown energy '" + name + "' (known: " + list + ")");
}

}  // namespace mindiff::diffusion
