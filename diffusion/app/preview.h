// Preview samples during training: a grid of images, or for 2-D data a scatter plot of samples
// over the training points, drawn with a fixed seed so previews at different steps are comparable.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"
#include "diffusion/denoiser.h"
#include "diffusion/network.h"
#include "diffusion/app/run_folder.h"

namespace mindiff::diffusion {

class Preview {
 public:
  // sampler "" picks default_sampler (sampler.h) for the network's samples under `process`;
  // steps 0 means the default sampler's step count, or the named sampler's default.
  Preview(const DiffusionNet& net, std::shared_ptr<const Process> process, Parameterization kind,
          const Dataset& data, bool conditional, std::string sampler, int steps, int64_t n,
          uint64_t seed);
  // Samples with the network as it is now (the caller swaps EMA weights in) in evaluation mode,
  // writes run.sample_png(step), and returns a short description for the log.
  std::string write(const RunFolder& run, int64_t step) const;

 private:
  const DiffusionNet& net_;
  std::shared_ptr<const Process> process_;
  Parameterization kind_;
  const Dataset& data_;
  bool conditional_;
  std::string sampler_;
  int steps_;
  int64_t n_;
  uint64_t seed_;
};

// Scatter plot of 2-D samples (blue) over reference points (grey), bounds from the reference.
void write_scatter(const std::string& path, const Tensor& samples, const Tensor& reference);

// Paths of up to `max_paths` 2-D samples through the frames x_t (noise first): grey lines, the
// starting noise in grey and the final samples in blue.
void write_trajectories(const std::string& path, const std::vector<Tensor>& frames,
                        int64_t max_paths = 100);

// The score field grad log p_t of a 2-D denoiser at time t as arrows on a grid over `points`
// (drawn in grey underneath); arrow length is scaled so the longest spans about one grid cell.
// The grid is evaluated on `device` (the denoiser's).
void write_score_field(const std::string& path, const Denoiser& denoiser, double t,
                       const Tensor& points, Device device = Device::CPU);

}  // namespace mindiff::diffusion
