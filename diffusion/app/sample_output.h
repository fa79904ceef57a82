// What `sample` writes: the samples (a .png grid, a scatter plot for 2-D models, or a .npy
// array) and the trajectory of the first batch, from host copies.
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff::diffusion {

// Samples as the data they model: images [N, C, H, W] clamped to [-1, 1] (a sampler's last step
// can overshoot), points [N, D] as they are. Non-finite samples (a model or sampler that
// diverged) are an Error naming `what` and how many.
Tensor as_data(const Tensor& x, const std::string& what);

// x from as_data: images go to a square grid (.png) or as float32 (.npy); points [N, D] to a
// scatter plot (.png, 2-D) or as they are (.npy).
void write_samples(const std::string& path, const Tensor& x);

// Frames x_t from noise to data (each [N, ...]): images as a grid with a row per sample (at
// most 8) and a column per frame, points as paths.
void write_trajectory(const std::string& path, const std::vector<Tensor>& frames);

}  // namespace mindiff::diffusion
