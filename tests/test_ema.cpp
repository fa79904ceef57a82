// Weight EMA: hand-computed updates (fixed decay and warm-up form), bit-exact swap in/out,
// state export/import, and misuse errors.
#include <cstring>

#include "nn/checkpoint.h"
#include "nn/ema.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using nn::Ema;
using nn::EmaOptions;
using test::expect_error;
using test::expect_near_all;

constexpr float kTol = 1e-6f;  // a few float32 roundings of O(1) values

Tensor leaf(const std::vector<float>& v) {
  Tensor t = from_data(v, {static_cast<int64_t>(v.size())});
  t.requires_grad_();
  return t;
}

// Overwrites a parameter's values (what an optimizer step does).
void assign(const Tensor& p, const std::vector<float>& v) { p.copy_(from_data(v, p.shape())); }

bool same_bits(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(Ema, FixedDecayByHand) {
  // decay 0.5, shadow starts at p = {1, 2, 4}.
  //   p = {3, 2, 0}:  s = .5 {1, 2, 4} + .5 {3, 2, 0} = {2, 2, 2}
  //   p = {0, 0, 0}:  s = {1, 1, 1}
  //   p = {1, 5, -3}: s = {1, 3, -1}
  Tensor p = leaf({1, 2, 4});
  Ema ema({p}, EmaOptions{0.5, false});
  EXPECT_EQ(ema.next_decay(), 0.5);
  assign(p, {3, 2, 0});
  ema.update({p});
  expect_near_all(ema.shadow()[0].tensor.to_vector(), {2, 2, 2}, kTol);
  assign(p, {0, 0, 0});
  ema.update({p});
  expect_near_all(ema.shadow()[0].tensor.to_vector(), {1, 1, 1}, kTol);
  assign(p, {1, 5, -3});
  ema.update({p});
  expect_near_all(ema.shadow()[0].tensor.to_vector(), {1, 3, -1}, kTol);
  EXPECT_EQ(ema.num_updates(), 3u);
  EXPECT_EQ(ema.shadow()[0].name, "0");
}

TEST(Ema, DefaultDecayByHand) {
  // Default decay 0.9999 (fixed, no warm-up): s = .9999 * 0 + .0001 * 10 = 0.001. (With the
  // decay held as a float, 1 - 0.9999f = 1.00017e-4 would give 0.00100017.)
  Tensor p = leaf({0});
  Ema ema({p}, EmaOptions{});
  EXPECT_FALSE(ema.options().warmup);
  assign(p, {10});
  ema.update({p});
  EXPECT_NEAR(ema.shadow()[0].tensor.item(), 0.001f, 1e-9f);
}

TEST(Ema, WarmupDecayByHand) {
  // decay 0.999 with warm-up: d_t = min(.999, (1 + t)/(10 + t)), t = updates so far.
  //   t = 0: d = 1/10;  s = .1 * 0 + .9 * 1 = 0.9
  //   t = 1: d = 2/11;  s = (2/11) .9 + (9/11) 1 = 10.8/11 = 0.98181818
  //   t = 2: d = 3/12;  p = 0: s = .25 * 0.98181818 = 0.24545455
  Tensor p = leaf({0});
  Ema ema({p}, EmaOptions{0.999, true});
  EXPECT_DOUBLE_EQ(ema.next_decay(), 0.1);
  assign(p, {1});
  ema.update({p});
  EXPECT_NEAR(ema.shadow()[0].tensor.item(), 0.9f, kTol);
  EXPECT_DOUBLE_EQ(ema.next_decay(), 2.0 / 11.0);
  ema.update({p});
  EXPECT_NEAR(ema.shadow()[0].tensor.item(), 0.98181818f, kTol);
  assign(p, {0});
  ema.update({p});
  EXPECT_NEAR(ema.shadow()[0].tensor.item(), 0.24545455f, kTol);
  // Far along the warm-up form reaches the cap: (1 + t)/(10 + t) > .999 once t > 8990.
  Ema late({p}, EmaOptions{0.999, true});
  for (int i = 0; i < 9000; ++i) late.update({p});
  EXPECT_EQ(late.next_decay(), 0.999);
}

TEST(Ema, SwapInAndOutIsBitExact) {
  // Large enough (70000 elements) for the parallel path.
  Tensor a = randn({70000}, 1), b = randn({3, 4}, 2);
  a.requires_grad_(), b.requires_grad_();
  Ema ema({{"a", a}, {"b", b}}, EmaOptions{0.9, false});
  // Move the live weights so that live and EMA differ in every element.
  assign(a, randn({70000}, 3).to_vector());
  assign(b, randn({3, 4}, 4).to_vector());
  ema.update({a, b});
  Tensor live_a = from_data(a.to_vector(), a.shape()), live_b = from_data(b.to_vector(), b.shape());
  Tensor ema_a = from_data(ema.shadow()[0].tensor.to_vector(), a.shape());
  Tensor ema_b = from_data(ema.shadow()[1].tensor.to_vector(), b.shape());
  ASSERT_FALSE(same_bits(live_a, ema_a));
  {
    nn::EmaScope scope(ema, {a, b});
    EXPECT_TRUE(ema.swapped_in());
    EXPECT_TRUE(same_bits(a, ema_a));
    EXPECT_TRUE(same_bits(b, ema_b));
    expect_error([&] { ema.update({a, b}); }, {"ema update", "swap_out"});
    expect_error([&] { ema.swap_in({a, b}); }, {"already swapped in"});
  }
  EXPECT_FALSE(ema.swapped_in());
  EXPECT_TRUE(same_bits(a, live_a));
  EXPECT_TRUE(same_bits(b, live_b));
  EXPECT_TRUE(same_bits(ema.shadow()[0].tensor, ema_a));
  EXPECT_TRUE(same_bits(ema.shadow()[1].tensor, ema_b));
  expect_error([&] { ema.swap_out({a, b}); }, {"not swapped in"});
}

TEST(Ema, StateRoundTripAndLoadIntoAModel) {
  Tensor w = leaf({1, 2, 3}), bias = leaf({-1});
  Ema ema({{"layer.weight", w}, {"layer.bias", bias}}, EmaOptions{0.5, true});
  assign(w, {3, 4, 5});
  ema.update({w, bias});
  nn::StateDict st = ema.state();
  EXPECT_EQ(st.kind, "ema");
  EXPECT_EQ(st.scalar("num_updates"), 1.0);
  EXPECT_EQ(st.tensors[0].name, "layer.weight");
  // A fresh EMA restored from the state continues exactly like the original.
  Ema restored({{"layer.weight", w}, {"layer.bias", bias}}, EmaOptions{0.5, true});
  restored.load_state(st);
  EXPECT_EQ(restored.num_updates(), 1u);
  assign(w, {0, 0, 0});
  ema.update({w, bias});
  restored.update({w, bias});
  for (size_t i = 0; i < 2; ++i)
    EXPECT_TRUE(same_bits(ema.shadow()[i].tensor, restored.shadow()[i].tensor));
  // The state holds copies: later updates do not change it. Its first update had warm-up decay
  // min(.5, 1/10) = .1: s = .1 {1, 2, 3} + .9 {3, 4, 5} = {2.8, 3.8, 4.8}.
  expect_near_all(st.tensors[0].tensor.to_vector(), {2.8f, 3.8f, 4.8f}, kTol);
  // The EMA weights load into a model by parameter name (what sampling does).
  Tensor w2 = leaf({0, 0, 0}), b2 = leaf({0});
  nn::load_into({{"layer.weight", w2}, {"layer.bias", b2}}, ema.state().tensors, "mem");
  EXPECT_TRUE(same_bits(w2, ema.shadow()[0].tensor));
  // Mismatched settings are refused.
  Ema other({{"layer.weight", w}, {"layer.bias", bias}}, EmaOptions{0.9, true});
  expect_error([&] { other.load_state(st); }, {"decay", "0.5", "0.9"});
  Ema renamed({{"weight", w}, {"layer.bias", bias}}, EmaOptions{0.5, true});
  expect_error([&] { renamed.load_state(st); }, {"no tensor named 'weight'"});
}

TEST(Ema, ArgumentErrors) {
  Tensor a = leaf({1, 2}), b = leaf({3});
  Ema ema({a, b}, EmaOptions{0.9, false});
  expect_error([&] { ema.update({a}); }, {"ema update", "1 parameters", "made for 2"});
  expect_error([&] { ema.update({b, a}); }, {"ema update", "parameter 0", "[1]", "[2]"});
  expect_error([&] { Ema({a}, EmaOptions{1.5, false}); }, {"decay", "1.5"});
  expect_error([&] { Ema({{"x", a}, {"x", b}}, EmaOptions{}); }, {"'x'", "twice"});
}

}  // namespace
}  // namespace mindiff
