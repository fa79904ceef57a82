// Distances between sample sets (rows of [N, D] tensors), for testing samplers and models.
#pragma once
#include <vector>

#include "diffusion/gmm.h"

namespace mindiff::diffusion {

// Energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo), V-statistic, in double.
double energy_distance(const Tensor& x, const Tensor& y);
// Squared MMD with the RBF kernel exp(-|a - b|^2 / (2 h^2)), h the median pairwise distance of
// the pooled samples (the median heuristic), unbiased U-statistic.
double mmd_rbf(const Tensor& x, const Tensor& y);
// Fraction of rows assigned (highest responsibility) to each component of the mixture.
std::vector<double> mode_weights(const Tensor& x, const GaussianMixture& mixture);

}  // namespace mindiff::diffusion
