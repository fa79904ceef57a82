// How close samples are to a distribution we can sample exactly, in the three statistics of the
// sampler acceptance tests (and of `sample --check`):
//
//   energy   the energy distance (metrics.h) to an exact set of the same size;
//   weight   for a mixture with separated modes: the worst |w_k' - w_k| over components, w_k' the
//            fraction of samples whose most responsible component is k;
//   spread   the worst |s_k' / c_k - 1| over components, s_k' the spread of component k's samples
//            (their root mean square distance to their own mean, per coordinate) and c_k the
//            median of s_k' over exact sets of the same size (the assignment trims the tails a
//            little, so c_k is slightly below the component's std).
//
// Each is judged against its 95th percentile over exact-versus-exact repeats at the same n: an
// exact sampler exceeds it one time in twenty. The percentiles of the targets the tests use are
// computed once, with >= 200 repeats, by `make sampler-thresholds` (bench/sampler_thresholds.cpp)
// into sample_check_table.cpp; others are computed when asked for, with fewer repeats.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/gmm.h"

namespace mindiff::diffusion {

// The 95th percentiles of the three statistics for `target` at n samples.
struct ExactThresholds {
  std::string target;
  int64_t n = 0;
  int repeats = 0;
  double energy = 0;
  double weight = 0;  // 0 where the target has no modes
  double spread = 0;
  std::vector<double> centres;  // c_k per component
};

struct CheckStats {
  double energy = 0;
  double weight = 0;  // worst over components (0 without modes)
  double spread = 0;
  std::vector<double> weights;  // w_k' per component
  std::vector<double> spreads;  // s_k' per component
};

// How many rows of x [N, ...] hold a value that is not finite (a chain that diverged).
int64_t non_finite_rows(const Tensor& x);

// The spread s_k' of each component's samples (0 for a component with fewer than 2 samples).
std::vector<double> mode_spreads(const Tensor& x, const GaussianMixture& modes);

// The statistics of x against an exact set `reference` (same size), with the centres c_k of
// `thresholds` for the spread; modes null for targets without modes.
CheckStats check_stats(const Tensor& x, const Tensor& reference, const GaussianMixture* modes,
                       const ExactThresholds& thresholds);

// The percentiles from `repeats` exact pairs drawn by exact(n, seed), seeds seed0, seed0 + 1, ...
ExactThresholds exact_thresholds(const std::string& target, int64_t n, int repeats,
                                 const std::function<Tensor(int64_t, uint64_t)>& exact,
                                 const GaussianMixture* modes, uint64_t seed0);

// The committed table (sample_check_table.cpp); null when (target, n) is not in it.
const ExactThresholds* tabulated_thresholds(const std::string& target, int64_t n);
const std::vector<ExactThresholds>& threshold_table();

// The report `sample --check` prints: each statistic, its p95 and their ratio, and with modes
// each component's weight and spread beside the exact ones.
std::string format_check(const CheckStats& stats, const ExactThresholds& thresholds,
                         const GaussianMixture* modes);

}  // namespace mindiff::diffusion
