// The training loop's batched loss reading (diffusion/app/step_losses.h) on the CPU; on the
// device, the one copy a read makes is counted in test_cuda_transfers.cpp.
#include <vector>

#include "diffusion/app/step_losses.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

TEST(StepLosses, ReadsWhatWasKeptInStepOrderAndForgetsIt) {
  diffusion::StepLosses losses(4);
  const Tensor x = randn({3, 5}, 7);
  // Losses as the loop makes them: a scalar result of ops, and a one-element tensor.
  const Tensor a = sum(x), b = full({1}, 2.5f);
  const float a_value = a.item();
  losses.add(11, a, 1e-3, 0.5);
  losses.add(12, b, 2e-3, 0.75);
  EXPECT_EQ(losses.pending(), 2u);
  EXPECT_FALSE(losses.due(11));
  EXPECT_TRUE(losses.due(12));

  const std::vector<diffusion::StepLoss> read = losses.read();
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].step, 11);
  EXPECT_EQ(read[0].loss, static_cast<double>(a_value));
  EXPECT_EQ(read[0].lr, 1e-3);
  EXPECT_EQ(read[0].seconds, 0.5);
  EXPECT_EQ(read[1].step, 12);
  EXPECT_EQ(read[1].loss, 2.5);
  EXPECT_EQ(losses.pending(), 0u);
  EXPECT_TRUE(losses.read().empty());
}

TEST(StepLosses, BadInputIsNamed) {
  test::expect_error([] { diffusion::StepLosses(0); }, {"every 0 steps"});
  diffusion::StepLosses losses(1);
  test::expect_error([&] { losses.add(3, randn({2}, 1), 0, 0); }, {"step 3", "one value", "[2]"});
  test::expect_error([&] { losses.add(4, Tensor(), 0, 0); }, {"step 4", "nothing"});
}

}  // namespace
}  // namespace mindiff
