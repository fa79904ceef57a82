// 2-D toy distributions for diffusion experiments, sampled deterministically from a seed.
//
// Each set is N points as a [N, 2] tensor, drawn from one Generator (uniforms, then normals), so
// the same (name, N, seed) gives the same points on every machine and thread count.
//   gmm8          8 equal-weight Gaussians on a ring: means 4 (cos 2pi k/8, sin 2pi k/8), std 0.5
//                 (exact parameters in gmm8_mixture(), for the closed-form score)
//   checkerboard  uniform on the 8 "black" unit squares of a 4x4 board on [-2, 2]^2: squares
//                 whose integer corner (floor x, floor y) has an even sum
//   moons         sklearn-style half circles (cos t, sin t) and (1 - cos t, 1/2 - sin t),
//                 t ~ U[0, pi], centred (minus (1/2, 1/4)) and doubled, plus N(0, 0.1^2) noise
//   swissroll     t (cos t, sin t) / 5 with t ~ U[1.5 pi, 4.5 pi], plus N(0, 0.1^2) noise
//   ring          radius 2 + N(0, 0.1^2) at a uniform angle
// All have mean about 0; gmm8 spreads over [-5, 5], the others over about [-2, 2].
#pragma once
#include <array>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "tensor/tensor.h"

namespace mindiff {

// The names accepted by toy2d(), in the order listed above.
const std::vector<std::string>& toy2d_names();

// N points of the named set, [N, 2]. Throws an Error listing the known names for an unknown one.
Tensor toy2d(const std::string& name, int64_t n, Generator& gen);
Tensor toy2d(const std::string& name, int64_t n, uint64_t seed);

// The same points as a Dataset ([N, 2] "images"). For gmm8 the labels are the mixture
// components 0..7 (8 classes), for the other sets the dataset is unlabeled.
Dataset toy2d_dataset(const std::string& name, int64_t n, uint64_t seed);

// An isotropic Gaussian mixture in 2-D: p(x) = sum_k weights[k] N(x; means[k], std^2 I).
struct GaussianMixture2D {
  std::vector<std::array<float, 2>> means;
  float std = 0;
  std::vector<float> weights;  // sum to 1
};

// The exact mixture "gmm8" samples from (radius kGmm8Radius, std kGmm8Std).
constexpr float kGmm8Radius = 4.0f;
constexpr float kGmm8Std = 0.5f;
const GaussianMixture2D& gmm8_mixture();

}  // namespace mindiff
