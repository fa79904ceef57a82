// End to end on a distribution with a known answer: `train` fits the score MLP to the 8-Gaussian
// ring through the binary a user runs, `sample` draws from it, and the samples must be close to
// exact draws of the ring: energy distance within 3 times the 95th percentile of exact-versus-
// exact distances (the criterion of the diffusion spec), every mode present.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "data/image_io.h"
#include "diffusion/gmm.h"
#include "diffusion/metrics.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;

TEST(ToyTraining, TrainedScoreNetworkSamplesTheRing) {
  ASSERT_TRUE(fs::exists(test::bin("train")) && fs::exists(test::bin("sample")))
      << "make test builds them";
  char tmpl[] = "/tmp/mindiff_toy_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  // 1500 steps of batch 256 on one thread: ~30 s on an idle core of this machine.
  const std::string train =
      test::bin("train") + " --data gmm8 --schedule vp --steps 1500 --batch 256 --lr 2e-3 "
      "--min-lr 1e-4 --warmup 100 --threads 1 --sample-every 0 --checkpoint-every 1500 --out " + dir + "/run";
  const std::string sample = test::bin("sample") + " --checkpoint " + dir +
                             "/run --n 2000 --steps 50 --sampler ode-heun --threads 1 --out " +
                             dir + "/x.npy";
  int rc = std::system((train + " > " + dir + "/train.log 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0) << "train failed; see " << dir << "/train.log";
  rc = std::system((sample + " > " + dir + "/sample.log 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0) << "sample failed; see " << dir << "/sample.log";
  Tensor x = read_npy(dir + "/x.npy");
  ASSERT_EQ(x.shape(), Shape({2000, 2}));

  // The threshold: 95th percentile of energy distances between two exact samples of this size.
  const diffusion::GaussianMixture ring = diffusion::GaussianMixture::ring8();
  const int kPairs = 20;
  std::vector<double> exact;
  for (int i = 0; i < kPairs; ++i) {
    Generator a(100 + i), b(200 + i);
    exact.push_back(diffusion::energy_distance(ring.sample(2000, a), ring.sample(2000, b)));
  }
  std::sort(exact.begin(), exact.end());
  const double p95 = exact[static_cast<size_t>(0.95 * (kPairs - 1))];
  Generator ref(7);
  const double d = diffusion::energy_distance(x, ring.sample(2000, ref));
  const double kAllowedFactor = 3.0;  // a trained network, not the exact score: the spec's bound
  std::printf("trained ring: energy distance %.4f, exact-vs-exact p95 %.4f\n", d, p95);
  EXPECT_LT(d, kAllowedFactor * p95) << "energy distance " << d << ", exact-vs-exact p95 " << p95;
  // Every mode gets a fair share (exact: 1/8 each).
  for (double w : diffusion::mode_weights(x, ring)) EXPECT_GT(w, 0.07);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mindiff
