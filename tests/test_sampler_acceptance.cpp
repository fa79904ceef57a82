// Acceptance test of every sampler of `sample`, run as a user runs it: its defaults, the exact
// noised score of the target (MixtureDenoiser) under the process `sample --target` uses
// (kTargetSchedule), n = 2000 samples, several seeds. On
//   gmm8               the 8-Gaussian ring (radius 4, std 0.5), and
//   two-gaussians:16   Bach's two Gaussians N(+-3 (1, ..., 1), I) in 16 dimensions,
// each of the three statistics of sample_check.h (energy distance to exact samples, worst mode
// weight error, worst mode spread error) must be within kFactor times its exact-versus-exact
// 95th percentile at n = 2000 (from 400 repeats: diffusion/sample_check_table.cpp, made by
// `make sampler-thresholds`).
//
// Why 1.5 and not 1: an exact sampler exceeds the 95th percentile one time in twenty per
// statistic, and this test checks 3 statistics of 17 samplers on 2 targets for kSeeds seeds;
// at 1.5 times the percentile an exact sampler's chance of failing a statistic is a fraction of
// a percent (2.9 standard errors for a Gaussian statistic), while the biases that used to go
// unseen -- modes 3-12% too wide or narrow -- are several times the percentile in 16-D, where
// 2000 samples resolve a spread to 1.3%.
//
// Both targets have balanced modes symmetric about 0, so even a sampler that cannot move mass
// between modes gets their weights right from a symmetric start. Every sampler that can is also
// checked on tests/data/modes16.txt, with weights 0.7 and 0.3 and stds 1 and 0.5: the diffusion
// samplers, stochastic localisation, and the chains at one level (langevin, mala, walk-jump and
// the measurement samplers), whose default start is a descent of the probability-flow ODE that
// gives each mode its weight (langevin_walk.h, chain_start). langevin, mala and walk-jump are
// checked there on energy and weights but not on the modes' spreads: at their level 0.1 they
// sample X + 0.1 N (langevin, mala), which widens the mode of std 0.5 by 2%, or its posterior mean
// (walk-jump), which narrows it by 2% -- 1.5-1.8 times what 2000 samples resolve in 16 dimensions
// (on gmm8's 2-D modes of std 0.5 the same 2% is within the percentile, and checked). The
// measurement samplers jump at 0.0625 (0.8%) and are checked on all three. Annealed Langevin is not checked there:
// its mass is split between the modes at the level where the walk stops crossing between them,
// by the basins of that level's density rather than by the component weights, and the split
// cannot be corrected below it; with its defaults (or 50 or 100 levels at the same cost) the
// wider 0.7 mode came out with 0.81-0.89 of the samples (docs/samplers.md).
//
// The seeds are fixed (kSeeds), not chosen: the figures of every seed are printed, and the
// README quotes them.
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include "diffusion/sample_check.h"
#include "diffusion/sampler.h"
#include "diffusion/targets.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using namespace diffusion;

constexpr int64_t kN = 2000;
constexpr double kFactor = 1.5;  // see above
constexpr uint64_t kSeeds[] = {1, 2, 3};
constexpr uint64_t kReferenceSeed = 5000;  // the exact sets compared with: seed kReferenceSeed + s

struct Case {
  std::string sampler;
  std::string target;
  bool check_spread = true;  // see above: langevin, mala and walk-jump on modes16
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.sampler + "_" + info.param.target;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// The samplers run in one thread here. Their tensors are 2000 x 2 or 2000 x 16 values, where an
// OpenMP region costs more in synchronisation than it saves, and far more when other work shares
// the cores: with OMP_NUM_THREADS=2 on a machine whose other cores were busy the whole test took
// 742 s, in one thread 119 s. Results do not depend on the thread count.
class SamplerAcceptance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    threads_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
  void TearDown() override { omp_set_num_threads(threads_); }

 private:
  int threads_ = 1;
};

TEST_P(SamplerAcceptance, WithinTheExactPercentiles) {
  const Case& c = GetParam();
  const ExactThresholds* th = tabulated_thresholds(c.target, kN);
  ASSERT_TRUE(th) << c.target << " at n = " << kN << " is not in diffusion/sample_check_table.cpp "
                  << "(make sampler-thresholds)";
  const ExactTarget t = make_target(c.target);
  const MixtureDenoiser d(*t.mixture, make_process(kTargetSchedule));
  for (const uint64_t seed : kSeeds) {
    SamplerOptions o;
    o.seed = seed;
    const auto t0 = std::chrono::steady_clock::now();
    const SampleResult r = sample(c.sampler, d, Shape({kN, t.dim()}), o);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const CheckStats s =
        check_stats(r.x, t.exact_samples(kN, kReferenceSeed + seed), t.modes(), *th);
    std::printf(
        "[ accept   ] %-23s %-22s seed %lu: energy %.2f, weight %.2f, spread %.2f "
        "(x p95); %ld evaluations, %.1f s\n",
        c.sampler.c_str(), c.target.c_str(), static_cast<unsigned long>(seed),
        s.energy / th->energy, s.weight / th->weight, s.spread / th->spread,
        static_cast<long>(r.evaluations), seconds);
    const std::string where = c.sampler + " on " + c.target + ", seed " + std::to_string(seed);
    EXPECT_LE(s.energy, kFactor * th->energy) << where << ": energy distance, p95 " << th->energy;
    EXPECT_LE(s.weight, kFactor * th->weight)
        << where << ": worst mode weight error, p95 " << th->weight;
    if (c.check_spread) {
      EXPECT_LE(s.spread, kFactor * th->spread)
          << where << ": worst mode spread error, p95 " << th->spread;
    }
  }
}

bool moves_mass(const std::string& sampler) { return sampler != "annealed-langevin"; }

// The samplers whose default level moves a mode of std 0.5 by 2% (see above).
bool biased_at_its_level(const std::string& sampler) {
  return sampler == "langevin" || sampler == "mala" || sampler == "walk-jump";
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const std::string& s : sampler_names()) {
    for (const char* t : {"gmm8", "two-gaussians:16"}) cases.push_back({s, t});
    if (moves_mass(s)) cases.push_back({s, "tests/data/modes16.txt", !biased_at_its_level(s)});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Defaults, SamplerAcceptance, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace mindiff
