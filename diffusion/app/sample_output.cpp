// Writing samples and trajectories (sample_output.h).
#include "diffusion/app/sample_output.h"

#include <algorithm>
#include <cmath>

#include "data/image_io.h"
#include "diffusion/app/preview.h"
#include "diffusion/app/settings.h"

namespace mindiff::diffusion {

namespace {

// Rows of samples, columns of frames from noise to data: [N * F, C, H, W] in row-major order.
Tensor trajectory_grid(const std::vector<Tensor>& frames) {
  const int64_t n = frames[0].size(0), f = static_cast<int64_t>(frames.size());
  const int64_t per = frames[0].numel() / n;
  std::vector<int64_t> dims = frames[0].shape().vec();
  dims[0] = n * f;
  Tensor grid = empty(Shape(dims));
  for (int64_t j = 0; j < f; ++j) {
    const Tensor fr = frames[j].contiguous();
    for (int64_t i = 0; i < n; ++i)
      std::copy(fr.data() + i * per, fr.data() + (i + 1) * per, grid.data() + (i * f + j) * per);
  }
  return grid;
}

void check_finite(const std::vector<float>& v, const std::string& what) {
  const auto bad = std::count_if(v.begin(), v.end(), [](float f) { return !std::isfinite(f); });
  MD_CHECK(bad == 0, what, ": ", bad, " of the ", v.size(),
           " sampled values are NaN or infinite (the model or the sampler diverged)");
}

}  // namespace

Tensor as_data(const Tensor& x, const std::string& what) {
  std::vector<float> v = x.to_vector();
  check_finite(v, what);
  if (x.ndim() == 2) return x;
  for (float& f : v) f = std::min(1.0f, std::max(-1.0f, f));
  return from_data(v, x.shape());
}

void write_samples(const std::string& path, const Tensor& x) {
  const bool points = x.ndim() == 2;
  if (settings::ends_with(path, ".npy")) {
    write_npy(path, x);
  } else if (points) {
    write_scatter(path, x, x);
  } else {
    const double n = static_cast<double>(x.size(0));
    write_image_grid(path, x, static_cast<int64_t>(std::ceil(std::sqrt(n))));
  }
}

void write_trajectory(const std::string& path, const std::vector<Tensor>& frames) {
  MD_CHECK(!frames.empty(), path, ": the sampler kept no frames");
  for (const Tensor& f : frames) check_finite(f.to_vector(), path);
  if (frames[0].ndim() == 2) {
    write_trajectories(path, frames);
    return;
  }
  const int64_t rows = std::min<int64_t>(frames[0].size(0), 8);
  std::vector<Tensor> firsts;
  for (const Tensor& f : frames) firsts.push_back(f.slice(0, 0, rows));
  write_image_grid(path, trajectory_grid(firsts), static_cast<int64_t>(firsts.size()));
}

}  // namespace mindiff::diffusion
