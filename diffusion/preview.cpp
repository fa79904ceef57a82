#include "diffusion/preview.h"

#include <algorithm>
#include <cmath>

#include "data/image_io.h"
#include "data/plot.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion {

Preview::Preview(const DiffusionNet& net, std::shared_ptr<const Process> process,
                 Parameterization kind, const Dataset& data, bool conditional, std::string sampler,
                 int steps, int64_t n, uint64_t seed)
    : net_(net),
      process_(std::move(process)),
      kind_(kind),
      data_(data),
      conditional_(conditional),
      sampler_(std::move(sampler)),
      steps_(steps),
      n_(n),
      seed_(seed) {
  const bool discrete = dynamic_cast<const DiscreteDDPM*>(process_.get()) != nullptr;
  if (sampler_.empty()) {
    sampler_ = discrete ? "ddim" : "dpm-solver++";
    if (steps_ == 0) steps_ = discrete ? 50 : 20;
  }
  const auto names = sampler_names();
  MD_CHECK(std::find(names.begin(), names.end(), sampler_) != names.end(),
           "--preview-sampler: unknown sampler '", sampler_, "'");
  MD_CHECK(steps_ >= 0, "--preview-steps must be >= 0, got ", steps_);
}

std::string Preview::write(const RunFolder& run, int64_t step) const {
  NoGradGuard no_grad;
  net_.module().eval();
  const bool points = net_.sample_shape().ndim() == 1;
  // 2-D previews show many points; image previews a grid of n_.
  const int64_t n = points ? std::max<int64_t>(n_, 2000) : n_;
  std::vector<int64_t> labels;
  if (conditional_)
    for (int64_t i = 0; i < n; ++i) labels.push_back(i % net_.num_classes());
  NetworkDenoiser denoiser(net_.model_fn(nullptr), kind_, process_, labels);
  SamplerOptions options;
  options.steps = steps_;
  options.seed = seed_ ^ 0x9e3779b97f4a7c15ull;  // previews use their own fixed noise
  std::vector<int64_t> dims{n};
  for (int64_t d : net_.sample_shape()) dims.push_back(d);
  SampleResult r = sample(sampler_, denoiser, Shape(dims), options);
  const std::string path = run.sample_png(step);
  if (points) {
    int64_t m = std::min<int64_t>(data_.size(), 4000);
    write_scatter(path, r.x, data_.images.slice(0, 0, m));
  } else {
    write_image_grid(path, r.x, 8);
  }
  return "preview (" + sampler_ + ", " + std::to_string(r.evaluations) + " evaluations) in " + path;
}

void write_scatter(const std::string& path, const Tensor& samples, const Tensor& reference) {
  auto columns = [](const Tensor& t, std::vector<double>& xs, std::vector<double>& ys) {
    std::vector<float> v = t.to_vector();
    for (size_t i = 0; i + 1 < v.size(); i += 2) {
      xs.push_back(v[i]);
      ys.push_back(v[i + 1]);
    }
  };
  std::vector<double> rx, ry, sx, sy;
  columns(reference, rx, ry);
  columns(samples, sx, sy);
  double lo = -1, hi = 1;
  for (size_t i = 0; i < rx.size(); ++i) {
    lo = std::min({lo, rx[i], ry[i]});
    hi = std::max({hi, rx[i], ry[i]});
  }
  const double pad = 0.1 * (hi - lo);
  Plot plot(520, 520, lo - pad, hi + pad, lo - pad, hi + pad);
  plot.points(rx, ry, Rgb{200, 200, 200}, 1);
  plot.points(sx, sy, Rgb{30, 80, 200}, 1);
  plot.write_png(path);
}

}  // namespace mindiff::diffusion
