// Shared helpers for the test suite.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tensor/ops.h"

namespace mindiff::test {

// Adapts a GradcheckResult to gtest: EXPECT_TRUE(grad_ok(gradcheck(...))).
inline ::testing::AssertionResult grad_ok(const GradcheckResult& r) {
  if (r.ok) return ::testing::AssertionSuccess() << r.message;
  return ::testing::AssertionFailure() << r.message;
}

// A leaf that requires grad, filled with N(0, 1) values from `seed`.
inline Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = randn(shape, seed);
  t.requires_grad_();
  return t;
}

// A non-contiguous leaf of `shape`: the transpose of a contiguous tensor with the last two axes
// swapped, so its last axis has a stride > 1. Requires grad.
inline Tensor param_transposed(const Shape& shape, uint64_t seed) {
  MD_CHECK(shape.ndim() >= 2, "param_transposed: needs rank >= 2");
  Shape swapped = shape;
  std::swap(swapped[shape.ndim() - 1], swapped[shape.ndim() - 2]);
  Tensor t = randn(swapped, seed).transpose(-1, -2);
  t.requires_grad_();
  return t;
}

// Expects `fn` to throw mindiff::Error whose message contains every one of `parts`.
template <class Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a mindiff::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message '" << msg << "' lacks '" << p << "'";
  }
}

// Elementwise comparison with a tolerance.
inline void expect_near_all(const std::vector<float>& got, const std::vector<float>& want,
                            float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

}  // namespace mindiff::test
