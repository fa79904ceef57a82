// Autograd mechanics: accumulation, shared subexpressions, no-grad, detach, zero_grad, graph
// release, and that the gradient checker itself catches a wrong derivative.
#include <cmath>

#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;

TEST(Autograd, SharedSubexpressionAccumulates) {
  // y = (x*x) + (x*x) * 3 with u = x*x used twice: dy/dx = 4 u'... = (1 + 3) * 2x = 8x.
  Tensor x = from_data({1.0f, -2.0f, 0.5f}, {3});
  x.requires_grad_();
  Tensor u = x * x;
  Tensor y = sum(u + u * 3.0f);
  y.backward();
  test::expect_near_all(x.grad().to_vector(), {8.0f, -16.0f, 4.0f}, 1e-6f);
}

TEST(Autograd, LeafUsedTwiceInOneOpAndGradientsAccumulateAcrossCalls) {
  // d/dx sum(x * x) = 2x, x entering mul as both operands.
  Tensor x = from_data({3.0f, -1.0f}, {2});
  x.requires_grad_();
  sum(x * x).backward();
  test::expect_near_all(x.grad().to_vector(), {6.0f, -2.0f}, 0.0f);
  // A second backward on a new graph adds to .grad until zero_grad().
  sum(x * 2.0f).backward();
  test::expect_near_all(x.grad().to_vector(), {8.0f, 0.0f}, 0.0f);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  test::expect_near_all(x.grad().to_vector(), {1.0f, 1.0f}, 0.0f);
}

TEST(Autograd, DiamondGraphGetsBothPaths) {
  // a = exp(x); b = a * 2; c = a * a; y = sum(b + c): dy/dx = (2 + 2a) * a.
  Tensor x = from_data({0.0f, 1.0f}, {2});
  x.requires_grad_();
  Tensor a = exp(x);
  sum(a * 2.0f + a * a).backward();
  float e = std::exp(1.0f);
  test::expect_near_all(x.grad().to_vector(), {4.0f, (2.0f + 2.0f * e) * e}, 1e-5f);
}

// Gradients that backward functions hand out may be one tensor (add's backward returns dout for
// both inputs, here the caller's own dout): summing the contributions to a tensor used three
// times adds into a tensor of its own, never into one that anything else can see.
TEST(Autograd, SummingContributionsChangesNoSharedGradient) {
  Tensor x = from_data({0.0f, 1.0f}, {2});
  x.requires_grad_();
  Tensor h = exp(x);
  Tensor y = (h + h) + h;
  const Tensor dout = from_data({1.0f, 10.0f}, {2});
  y.backward(dout);
  EXPECT_EQ(dout.to_vector(), (std::vector<float>{1.0f, 10.0f}));
  const float e = std::exp(1.0f);
  test::expect_near_all(x.grad().to_vector(), {3.0f, 30.0f * e}, 1e-5f);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = test::param({3}, 1);
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Tensor y = exp(x) * 2.0f;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(exp(x).requires_grad());
}

TEST(Autograd, DetachCutsTheGraphButSharesStorage) {
  Tensor x = test::param({2}, 2);
  Tensor y = x * 3.0f;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), y.storage());
  // Gradient flows only through the attached path: d/dx sum(y + d) = 3.
  sum(y + d).backward();
  test::expect_near_all(x.grad().to_vector(), {3.0f, 3.0f}, 0.0f);
}

TEST(Autograd, InputsThatDoNotRequireGradGetNone) {
  Tensor w = test::param({2}, 3);
  Tensor c = from_data({1.0f, 2.0f}, {2});
  sum(w * c).backward();
  EXPECT_FALSE(c.grad().defined());
  test::expect_near_all(w.grad().to_vector(), {1.0f, 2.0f}, 0.0f);
}

TEST(Autograd, ErrorsAreClear) {
  Tensor x = test::param({2}, 4);
  Tensor y = sum(x * x);
  y.backward();
  expect_error([&] { y.backward(); }, {"backward", "already used"});
  expect_error([&] { (x * 2.0f).backward(); }, {"backward", "one-element", "[2]"});
  expect_error([] { zeros({2}).backward(); }, {"backward", "does not require grad"});
  expect_error([&] { (x * 2.0f).requires_grad_(); }, {"requires_grad_", "leaf"});
}

TEST(Autograd, GraphIsReleasedAfterBackward) {
  // The saved input of exp is freed once backward has walked the node.
  Tensor x = test::param({4}, 5);
  Tensor y = exp(x);
  std::weak_ptr<Node> node = y.grad_fn();
  y.backward(ones({4}));
  ASSERT_FALSE(node.expired());  // y still owns its node...
  EXPECT_FALSE(y.grad_fn()->backward);  // ...but the node's saved tensors are gone
  EXPECT_TRUE(y.grad_fn()->inputs.empty());
}

TEST(Autograd, KeepGraphAllowsASecondBackward) {
  Tensor x = test::param({3}, 6);
  Tensor y = sum(square(x));
  run_backward(y, Tensor(), /*keep_graph=*/true);
  y.backward();
  std::vector<float> xv = x.to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_NEAR(g[i], 4.0f * xv[i], 1e-5f);
}

// A test-only op whose backward is deliberately wrong by a factor of 1.1: gradcheck must notice.
const OpInfo kWrongOp("test_wrong_backward");
Tensor wrong_square(const Tensor& x) {
  Tensor y = square(x.detach());
  if (needs_grad({x}))
    record(kWrongOp, y, {x}, [xd = x.detach()](const Tensor& dout) {
      return std::vector<Tensor>{dout * xd * 2.2f};  // correct: 2 x
    });
  return y;
}

TEST(Gradcheck, CatchesAWrongDerivative) {
  Tensor x = test::param({5}, 7);
  GradcheckResult r = gradcheck("test_wrong_backward", [](auto in) { return wrong_square(in[0]); }, {x});
  EXPECT_FALSE(r.ok) << r.message;
  EXPECT_NE(r.message.find("disagree"), std::string::npos) << r.message;
}

TEST(Gradcheck, RefusesAnOpMissingFromTheGraph) {
  Tensor x = test::param({2}, 8);
  GradcheckResult r = gradcheck("exp", [](auto in) { return square(in[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("does not appear"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace mindiff
