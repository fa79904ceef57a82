// Optimizers, learning-rate schedules and gradient clipping: values worked out by hand (in the
// comments) or with the textbook formulas written out in double precision here, independently of
// nn/optim.cpp; state export/import; argument errors.
#include <cmath>

#include "nn/optim.h"
#include "nn/schedule.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using nn::Adam;
using nn::AdamOptions;
using nn::AdamW;
using nn::LrSchedule;
using nn::Sgd;
using nn::SgdOptions;
using test::expect_error;
using test::expect_near_all;

// float32 updates of O(1) values against double references: a few roundings of ~6e-8 each.
constexpr float kTol = 1e-6f;

// Makes p.grad == g through the real autograd path: d/dp sum(p * g) = g.
void set_grad(const Tensor& p, const std::vector<float>& g) {
  p.zero_grad();
  sum(p * from_data(g, p.shape())).backward();
}

Tensor leaf(const std::vector<float>& v) {
  Tensor t = from_data(v, {static_cast<int64_t>(v.size())});
  t.requires_grad_();
  return t;
}

// ---- SGD ----

TEST(Sgd, MomentumByHand) {
  // lr 0.1, mu 0.9, p0 = {1, -1, 2}, g1 = g2 = {1, 0.5, -1}, g3 = 0.
  //   b1 = g1 = {1, .5, -1}                      p1 = p0 - .1 b1 = {0.9, -1.05, 2.1}
  //   b2 = .9 b1 + g2 = {1.9, .95, -1.9}          p2 = {0.71, -1.145, 2.29}
  //   b3 = .9 b2 + 0 = {1.71, .855, -1.71}        p3 = {0.539, -1.2305, 2.461}
  Tensor p = leaf({1.0f, -1.0f, 2.0f});
  Sgd opt({p}, SgdOptions{0.1f, 0.9f, false, 0.0f});
  const std::vector<std::vector<float>> grads = {{1, 0.5f, -1}, {1, 0.5f, -1}, {0, 0, 0}};
  const std::vector<std::vector<float>> want = {
      {0.9f, -1.05f, 2.1f}, {0.71f, -1.145f, 2.29f}, {0.539f, -1.2305f, 2.461f}};
  for (int s = 0; s < 3; ++s) {
    set_grad(p, grads[s]);
    opt.step();
    expect_near_all(p.to_vector(), want[s], kTol);
  }
  EXPECT_EQ(opt.step_count(), 3u);
}

TEST(Sgd, NesterovByHand) {
  // Same data; the step is d = g + mu b with b updated first.
  //   b1 = {1, .5, -1},     d1 = 1.9 g1 = {1.9, .95, -1.9}         p1 = {0.81, -1.095, 2.19}
  //   b2 = {1.9, .95, -1.9}, d2 = g2 + .9 b2 = {2.71, 1.355, -2.71} p2 = {0.539, -1.2305, 2.461}
  //   b3 = {1.71, .855, -1.71}, d3 = .9 b3 = {1.539, .7695, -1.539} p3 = {0.3851, -1.30745, 2.6149}
  Tensor p = leaf({1.0f, -1.0f, 2.0f});
  Sgd opt({p}, SgdOptions{0.1f, 0.9f, true, 0.0f});
  const std::vector<std::vector<float>> grads = {{1, 0.5f, -1}, {1, 0.5f, -1}, {0, 0, 0}};
  const std::vector<std::vector<float>> want = {
      {0.81f, -1.095f, 2.19f}, {0.539f, -1.2305f, 2.461f}, {0.3851f, -1.30745f, 2.6149f}};
  for (int s = 0; s < 3; ++s) {
    set_grad(p, grads[s]);
    opt.step();
    expect_near_all(p.to_vector(), want[s], kTol);
  }
}

TEST(Sgd, WeightDecayWithoutMomentum) {
  // g' = g + wd p = {1, .5, -1} + .1 {1, -1, 2} = {1.1, .4, -.8};  p1 = p0 - .1 g' = {.89,
  // -1.04, 2.08}
  Tensor p = leaf({1.0f, -1.0f, 2.0f});
  Sgd opt({p}, SgdOptions{0.1f, 0.0f, false, 0.1f});
  set_grad(p, {1, 0.5f, -1});
  opt.step();
  expect_near_all(p.to_vector(), {0.89f, -1.04f, 2.08f}, kTol);
  EXPECT_TRUE(opt.state().tensors.empty());  // no momentum buffers without momentum
}

// ---- Adam / AdamW ----

// Kingma & Ba, Algorithm 1, in double, with the decay variants: `decoupled` applies
// p -= lr wd p first (AdamW); otherwise wd p is added to the gradient (Adam's L2).
std::vector<std::vector<double>> adam_reference(std::vector<double> p,
                                                const std::vector<std::vector<double>>& grads,
                                                double lr, double b1, double b2, double eps,
                                                double wd, bool decoupled) {
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  std::vector<std::vector<double>> out;
  for (size_t t = 1; t <= grads.size(); ++t) {
    for (size_t k = 0; k < p.size(); ++k) {
      double g = grads[t - 1][k];
      if (decoupled)
        p[k] -= lr * wd * p[k];
      else
        g += wd * p[k];
      m[k] = b1 * m[k] + (1 - b1) * g;
      v[k] = b2 * v[k] + (1 - b2) * g * g;
      double m_hat = m[k] / (1 - std::pow(b1, double(t)));
      double v_hat = v[k] / (1 - std::pow(b2, double(t)));
      p[k] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    out.push_back(p);
  }
  return out;
}

const std::vector<float> kP0 = {1.0f, -2.0f, 0.5f};
const std::vector<std::vector<float>> kGrads = {
    {0.1f, -0.2f, 0.3f}, {0.4f, 0.0f, -0.1f}, {-0.3f, 0.5f, 0.2f}};

void check_adam(bool decoupled, float wd) {
  Tensor p = leaf(kP0);
  AdamOptions o{0.1f, 0.9f, 0.999f, 1e-8f, wd};
  std::unique_ptr<nn::Optimizer> opt;
  if (decoupled)
    opt = std::make_unique<AdamW>(std::vector<Tensor>{p}, o);
  else
    opt = std::make_unique<Adam>(std::vector<Tensor>{p}, o);
  std::vector<std::vector<double>> g64;
  for (const auto& g : kGrads) g64.emplace_back(g.begin(), g.end());  // the float values, exactly
  auto want = adam_reference({kP0.begin(), kP0.end()}, g64, 0.1, 0.9, 0.999, 1e-8, wd, decoupled);
  for (size_t s = 0; s < kGrads.size(); ++s) {
    set_grad(p, kGrads[s]);
    opt->step();
    std::vector<float> want_f(want[s].begin(), want[s].end());
    expect_near_all(p.to_vector(), want_f, kTol);
  }
}

TEST(Adam, FirstStepMovesEachWeightByLr) {
  // Step 1: m = (1-b1) g, v = (1-b2) g^2, so m_hat = g and v_hat = g^2 exactly: the update is
  // lr g / (|g| + eps) = lr sign(g) (to 1e-7 relative). p0 = {1, -2, .5}, g = {.1, -.2, .3}:
  // p1 = {0.9, -1.9, 0.4}.
  Tensor p = leaf(kP0);
  Adam opt({p}, AdamOptions{0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  set_grad(p, kGrads[0]);
  opt.step();
  expect_near_all(p.to_vector(), {0.9f, -1.9f, 0.4f}, kTol);
}

TEST(Adam, ThreeStepsMatchTheFormulas) { check_adam(false, 0.0f); }
TEST(Adam, L2WeightDecayIsAddedToTheGradient) { check_adam(false, 0.1f); }
TEST(AdamW, ThreeStepsWithDecoupledDecay) { check_adam(true, 0.1f); }

TEST(AdamW, FirstStepByHand) {
  // p <- p (1 - lr wd) = p (1 - .01), then the Adam step of FirstStepMovesEachWeightByLr:
  // {.99 - .1, -1.98 + .1, .495 - .1} = {0.89, -1.88, 0.395}.
  Tensor p = leaf(kP0);
  AdamW opt({p}, AdamOptions{0.1f, 0.9f, 0.999f, 1e-8f, 0.1f});
  EXPECT_STREQ(opt.kind(), "adamw");
  set_grad(p, kGrads[0]);
  opt.step();
  expect_near_all(p.to_vector(), {0.89f, -1.88f, 0.395f}, kTol);
}

TEST(Adam, ParameterWithoutGradIsUntouchedAndItsStepDoesNotAdvance) {
  Tensor a = leaf({1.0f, 2.0f, 3.0f}), b = leaf(kP0);
  Adam opt({a, b}, AdamOptions{0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  set_grad(a, {1.0f, 1.0f, 1.0f});
  opt.step();  // b has no grad
  EXPECT_EQ(b.to_vector(), kP0);
  // b's first real step must be a first step (t = 1, update lr sign(g)), not a second.
  set_grad(b, kGrads[0]);
  a.zero_grad();
  std::vector<float> a_before = a.to_vector();
  opt.step();
  EXPECT_EQ(a.to_vector(), a_before);
  expect_near_all(b.to_vector(), {0.9f, -1.9f, 0.4f}, kTol);
  EXPECT_EQ(opt.state().scalar("step.0"), 1.0);
  EXPECT_EQ(opt.state().scalar("step.1"), 1.0);
  EXPECT_EQ(opt.step_count(), 2u);
}

TEST(Adam, LargeParameterTakesTheParallelPathWithTheSameResult) {
  // 100003 elements (above the one-thread threshold): every element must match the double
  // formula for its own (p, g), as the 3-element case does.
  const int64_t n = 100003;
  Tensor p = randn({n}, 11);
  p.requires_grad_();
  std::vector<float> p0 = p.to_vector(), g = randn({n}, 12).to_vector();
  Adam opt({p}, AdamOptions{0.01f, 0.9f, 0.999f, 1e-8f, 0.0f});
  set_grad(p, g);
  opt.step();
  set_grad(p, g);
  opt.step();
  std::vector<float> got = p.to_vector();
  for (int64_t k = 0; k < n; k += 997) {
    auto want = adam_reference({p0[k]}, {{g[k]}, {g[k]}}, 0.01, 0.9, 0.999, 1e-8, 0.0, false);
    EXPECT_NEAR(got[k], want[1][0], kTol * (1 + std::fabs(p0[k]))) << "element " << k;
  }
}

TEST(Optimizer, NonContiguousGradientIsRead) {
  // A gradient stored as a transposed view (autograd itself stores contiguous ones, but the
  // optimizer does not rely on it).
  Tensor p = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  p.requires_grad_();
  Tensor g =
      from_data({10, 40, 20, 50, 30, 60}, {3, 2}).transpose(0, 1);  // = [[10,20,30],[40,50,60]]
  p.impl()->grad = g.impl_ptr();
  Sgd opt({p}, SgdOptions{0.1f});
  opt.step();
  // p - 0.1 [[10,20,30],[40,50,60]] = 0; reading the storage order {10,40,20,...} would not be.
  expect_near_all(p.to_vector(), std::vector<float>(6, 0.0f), kTol);
}

TEST(Optimizer, StateRoundTripContinuesBitExactly) {
  for (const char* kind : {"sgd", "adam", "adamw"}) {
    SCOPED_TRACE(kind);
    auto make = [&](std::vector<Tensor> ps) -> std::unique_ptr<nn::Optimizer> {
      if (std::string(kind) == "sgd")
        return std::make_unique<Sgd>(ps, SgdOptions{0.05f, 0.9f, true, 0.01f});
      AdamOptions o{0.01f, 0.8f, 0.99f, 1e-6f, 0.05f};
      if (std::string(kind) == "adam") return std::make_unique<Adam>(ps, o);
      return std::make_unique<AdamW>(ps, o);
    };
    Tensor a = randn({4, 3}, 1), b = randn({5}, 2);
    a.requires_grad_(), b.requires_grad_();
    auto opt = make({a, b});
    for (int s = 0; s < 2; ++s) {
      set_grad(a, randn({4, 3}, 10 + s).to_vector());
      set_grad(b, randn({5}, 20 + s).to_vector());
      opt->step();
    }
    opt->set_lr(0.02f);
    nn::StateDict st = opt->state();
    EXPECT_EQ(st.kind, kind);
    // A second optimizer over copies of the parameters, restored from the state.
    Tensor a2 = from_data(a.to_vector(), a.shape()), b2 = from_data(b.to_vector(), b.shape());
    a2.requires_grad_(), b2.requires_grad_();
    auto opt2 = make({a2, b2});
    opt2->load_state(st);
    EXPECT_EQ(opt2->lr(), 0.02f);
    EXPECT_EQ(opt2->step_count(), 2u);
    for (auto [p, q] : {std::pair{a, a2}, std::pair{b, b2}}) {
      std::vector<float> g = randn(p.shape(), 30).to_vector();
      set_grad(p, g);
      set_grad(q, g);
    }
    opt->step();
    opt2->step();
    EXPECT_EQ(a.to_vector(), a2.to_vector());
    EXPECT_EQ(b.to_vector(), b2.to_vector());
  }
}

TEST(Optimizer, LoadStateErrors) {
  Tensor a = leaf({1, 2, 3});
  Adam adam({a}, AdamOptions{});
  nn::StateDict st = adam.state();
  Tensor other = leaf({1, 2});
  Adam small({other}, AdamOptions{});
  expect_error([&] { small.load_state(st); }, {"adam", "exp_avg.0", "[3]", "[2]"});
  AdamW adamw({a}, AdamOptions{});
  expect_error([&] { adamw.load_state(st); }, {"adamw", "'adam'"});
  Adam other_beta({a}, AdamOptions{1e-3f, 0.5f});
  expect_error([&] { other_beta.load_state(st); }, {"beta1", "0.9", "0.5"});
  nn::StateDict missing = st;
  missing.tensors.pop_back();
  expect_error([&] { adam.load_state(missing); }, {"adam", "1 tensors, expected 2"});
  nn::StateDict bad_count = st;
  bad_count.scalars[1].value = 1.5;  // step_count
  expect_error([&] { adam.load_state(bad_count); }, {"step_count", "1.5"});
}

TEST(Optimizer, ArgumentErrors) {
  Tensor a = leaf({1, 2, 3});
  expect_error([&] { Sgd({a, a}, SgdOptions{}); }, {"parameter 1", "twice"});
  expect_error([&] { Sgd({a * 2.0f}, SgdOptions{}); }, {"parameter 0", "not a leaf"});
  expect_error([&] { Sgd({a}, SgdOptions{0.1f, 0.0f, true}); }, {"nesterov", "momentum"});
  expect_error([&] { Adam({a}, AdamOptions{1e-3f, 1.0f}); }, {"beta1", "[0, 1)"});
  Sgd opt({a}, SgdOptions{});
  expect_error([&] { opt.set_lr(-1.0f); }, {"learning rate", "-1"});
}

// ---- gradient clipping ----

TEST(ClipGradNorm, ByHand) {
  // grads {3} and {4}: norm sqrt(9 + 16) = 5; clipped to 1: scale 1/5 -> {0.6}, {0.8}.
  Tensor a = leaf({1.0f}), b = leaf({1.0f}), none = leaf({7.0f});
  set_grad(a, {3.0f});
  set_grad(b, {4.0f});
  EXPECT_FLOAT_EQ(nn::clip_grad_norm({a, none, b}, 1.0f), 5.0f);  // `none` has no grad
  EXPECT_NEAR(a.grad().item(), 0.6f, kTol);
  EXPECT_NEAR(b.grad().item(), 0.8f, kTol);
  EXPECT_FALSE(none.grad().defined());
  // Now below the threshold: returned, not changed.
  EXPECT_NEAR(nn::clip_grad_norm({a, b}, 2.0f), 1.0f, kTol);
  EXPECT_NEAR(a.grad().item(), 0.6f, kTol);
}

TEST(ClipGradNorm, LargeAndNonContiguousGradients) {
  // 70000 ones: norm sqrt(70000); and a transposed {2, 3} gradient of all 2s: 6 * 4 = 24 more.
  Tensor big = randn({70000}, 3);
  big.requires_grad_();
  set_grad(big, std::vector<float>(70000, 1.0f));
  Tensor p = zeros({2, 3});
  p.requires_grad_();
  p.impl()->grad = full({3, 2}, 2.0f).transpose(0, 1).impl_ptr();
  const double norm = std::sqrt(70000.0 + 24.0);
  EXPECT_NEAR(nn::clip_grad_norm({big, p}, 1.0f), norm, 1e-3);
  const float scale = static_cast<float>(1.0 / (norm + 1e-6));
  EXPECT_NEAR(big.grad().to_vector()[12345], scale, 1e-9f);
  expect_near_all(p.grad().to_vector(), std::vector<float>(6, 2.0f * scale), 1e-9f);
}

TEST(ClipGradNorm, NonFiniteNormLeavesGradientsAlone) {
  Tensor a = leaf({1.0f, 1.0f});
  set_grad(a, {INFINITY, 1.0f});
  EXPECT_TRUE(std::isinf(nn::clip_grad_norm({a}, 1.0f)));
  EXPECT_EQ(a.grad().to_vector()[1], 1.0f);
  expect_error([&] { nn::clip_grad_norm({a}, 0.0f); }, {"max_norm"});
}

// ---- learning-rate schedules ----

TEST(LrSchedule, WarmupCosineByHand) {
  // base 1e-3, floor 1e-4, W = 10, T = 110.
  LrSchedule s = LrSchedule::warmup_cosine(1e-3f, 1e-4f, 10, 110);
  EXPECT_FLOAT_EQ(s.lr(0), 1e-4f);     // base * 1/10
  EXPECT_FLOAT_EQ(s.lr(4), 5e-4f);     // base * 5/10
  EXPECT_FLOAT_EQ(s.lr(9), 1e-3f);     // end of warm-up: base
  EXPECT_FLOAT_EQ(s.lr(10), 1e-3f);    // cosine at 0: base
  EXPECT_FLOAT_EQ(s.lr(60), 5.5e-4f);  // half-way (step W + (T-W)/2): (base + floor) / 2
  // A quarter of the way: floor + (base - floor)(1 + cos(pi/4))/2 = 1e-4 + 9e-4 * 0.8535534.
  EXPECT_FLOAT_EQ(s.lr(35), 1e-4f + 9e-4f * 0.85355339f);
  EXPECT_FLOAT_EQ(s.lr(110), 1e-4f);  // end: the floor
  EXPECT_FLOAT_EQ(s.lr(100000), 1e-4f);
  // Monotone after the warm-up.
  for (int64_t t = 10; t < 110; ++t) EXPECT_LE(s.lr(t + 1), s.lr(t)) << t;
}

TEST(LrSchedule, ConstantAndNoWarmup) {
  LrSchedule c = LrSchedule::constant(3e-4f);
  EXPECT_EQ(c.lr(0), 3e-4f);
  EXPECT_EQ(c.lr(123456), 3e-4f);
  LrSchedule s = LrSchedule::warmup_cosine(2.0f, 0.0f, 0, 4);
  // cos over 4 steps: 2 * (1 + cos(pi t/4))/2 = {2, 1.7071068, 1, 0.2928932, 0}.
  const float want[] = {2.0f, 1.70710678f, 1.0f, 0.29289322f, 0.0f};
  for (int t = 0; t <= 4; ++t) EXPECT_NEAR(s.lr(t), want[t], kTol) << t;
  expect_error([] { LrSchedule::warmup_cosine(1e-3f, 1e-2f, 0, 10); }, {"min_lr", "base_lr"});
  expect_error([] { LrSchedule::warmup_cosine(1e-3f, 0.0f, 20, 10); }, {"warmup_steps", "20"});
}

}  // namespace
}  // namespace mindiff
