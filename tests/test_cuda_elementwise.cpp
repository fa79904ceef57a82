// CUDA parity of the elementwise ops, forward and backward: every unary op on contiguous and
// transposed inputs, binary ops with broadcasting and non-contiguous operands. Sizes are not
// multiples of the 256-thread blocks. The kernels share the CPU's per-element functors, so the
// results agree to the last bit except where the device's libm differs from the CPU's.
#include <cmath>

#include "tests/cuda_test_util.h"

namespace mindiff {
namespace {

using test::expect_parity;

using UnaryFn = Tensor (*)(const Tensor&);

struct UnaryCase {
  const char* name;
  UnaryFn fn;
  bool positive;  // log, sqrt need x > 0
};

class CudaUnary : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(CudaUnary, MatchesCpu) {
  SKIP_WITHOUT_CUDA();
  const UnaryCase& c = GetParam();
  auto prepare = [&](Tensor t) {
    NoGradGuard ng;
    Tensor u = c.positive ? abs(t) + 0.25f : t * 2.0f;
    return u.detach();
  };
  // Contiguous [5, 37] and a transposed [37, 5] view of a [5, 37] tensor.
  Tensor x = prepare(randn({5, 37}, 3));
  x.requires_grad_();
  expect_parity([&](auto in) { return c.fn(in[0]); }, {x});
  Tensor base = prepare(randn({5, 37}, 4));
  Tensor xt = base.transpose(0, 1);
  xt.requires_grad_();
  ASSERT_FALSE(xt.is_contiguous());
  expect_parity([&](auto in) { return c.fn(in[0]); }, {xt});
}

INSTANTIATE_TEST_SUITE_P(
    Ops, CudaUnary,
    ::testing::Values(UnaryCase{"neg", neg, false}, UnaryCase{"exp", exp, false},
                      UnaryCase{"log", log, true}, UnaryCase{"sqrt", sqrt, true},
                      UnaryCase{"square", square, false}, UnaryCase{"tanh", tanh, false},
                      UnaryCase{"sigmoid", sigmoid, false}, UnaryCase{"silu", silu, false},
                      UnaryCase{"relu", relu, false}, UnaryCase{"gelu", gelu, false},
                      UnaryCase{"abs", abs, false}),
    [](const auto& info) { return std::string(info.param.name); });

// relu and clamp keep a NaN a NaN on the device too (the functor is the CPU's).
TEST(CudaElementwise, NaNPropagatesThroughReluAndClamp) {
  SKIP_WITHOUT_CUDA();
  const Tensor x = from_data({std::nanf(""), -2.0f, 0.5f}, {3}).to(Device::CUDA);
  for (const Tensor& y : {relu(x), clamp(x, -1.0f, 1.0f)}) {
    const std::vector<float> v = y.to_vector();
    EXPECT_TRUE(std::isnan(v[0])) << v[0];
    EXPECT_EQ(v[2], 0.5f);
  }
}

TEST(CudaElementwise, ScalarForms) {
  SKIP_WITHOUT_CUDA();
  Tensor x = test::param({3, 50}, 5);
  expect_parity([](auto in) { return in[0] + 1.5f; }, {x});
  expect_parity([](auto in) { return in[0] * -0.75f; }, {x});
  expect_parity([](auto in) { return 2.0f - in[0] / 4.0f; }, {x});
  Tensor p;
  {
    NoGradGuard ng;
    p = (abs(randn({3, 50}, 6)) + 0.5f).detach();
  }
  p.requires_grad_();
  expect_parity([](auto in) { return pow(in[0], 1.7f); }, {p});
  expect_parity([](auto in) { return 3.0f / in[0]; }, {p});
}

TEST(CudaElementwise, BinaryWithBroadcastingAndViews) {
  SKIP_WITHOUT_CUDA();
  Tensor a = test::param({4, 1, 3}, 7), b = test::param({5, 3}, 8);
  expect_parity([](auto in) { return in[0] + in[1]; }, {a, b});
  expect_parity([](auto in) { return in[0] - in[1]; }, {a, b});
  expect_parity([](auto in) { return in[0] * in[1]; }, {a, b});
  Tensor d;
  {
    NoGradGuard ng;
    d = (abs(randn({5, 3}, 9)) + 0.5f).detach();
  }
  d.requires_grad_();
  expect_parity([](auto in) { return in[0] / in[1]; }, {a, d});
  // Non-contiguous operands of one shape (the strided kernel), and a row broadcast.
  Tensor at = test::param_transposed({6, 70}, 10), bt = test::param_transposed({6, 70}, 11);
  expect_parity([](auto in) { return in[0] * in[1] + in[0]; }, {at, bt});
  Tensor row = test::param({70}, 12);
  expect_parity([](auto in) { return in[0] - in[1]; }, {at, row});
}

}  // namespace
}  // namespace mindiff
