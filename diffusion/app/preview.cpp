#include "diffusion/app/preview.h"

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
  // The sampler `sample` would use, with its step count unless --preview-steps says otherwise.
  const DefaultSampler fallback = default_sampler(*process_, net_.sample_shape());
  if (sampler_.empty()) sampler_ = fallback.name;
  check_sampler_name(sampler_, "--preview-sampler");
  MD_CHECK(steps_ >= 0, "--preview-steps must be >= 0, got ", steps_);
  if (steps_ == 0 && sampler_ == fallback.name) steps_ = fallback.steps;
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
  NetworkDenoiser network(net_.model_fn(nullptr), kind_, process_, labels);
  ClippedDenoiser clipped(network);  // image previews: the denoised estimate kept in [-1, 1]
  const Denoiser& denoiser = points ? static_cast<const Denoiser&>(network) : clipped;
  SamplerOptions options;
  options.steps = steps_;
  options.seed = seed_ ^ 0x9e3779b97f4a7c15ull;  // previews use their own fixed noise
  options.device = net_.device();
  std::vector<int64_t> dims{n};
  for (int64_t d : net_.sample_shape()) dims.push_back(d);
  const SampleResult r = sample(sampler_, denoiser, Shape(dims), options);
  const Tensor x = r.x.to(Device::CPU);  // written from a host copy
  const std::string path = run.sample_png(step);
  if (points) {
    int64_t m = std::min<int64_t>(data_.size(), 4000);
    write_scatter(path, x, data_.images.slice(0, 0, m));
  } else {
    write_image_grid(path, x, 8);
  }
  return "preview (" + sampler_ + ", " + std::to_string(r.evaluations) + " evaluations) in " + path;
}

namespace {

void columns(const Tensor& t, std::vector<double>& xs, std::vector<double>& ys) {
  std::vector<float> v = t.to_vector();
  for (size_t i = 0; i + 1 < v.size(); i += 2) {
    xs.push_back(v[i]);
    ys.push_back(v[i + 1]);
  }
}

// A square view around the points: their range padded by 10%, at least [-1, 1].
void square_bounds(const std::vector<double>& xs, const std::vector<double>& ys, double& lo,
                   double& hi) {
  lo = -1;
  hi = 1;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    lo = std::min({lo, xs[i], ys[i]});
    hi = std::max({hi, xs[i], ys[i]});
  }
  const double pad = 0.1 * (hi - lo);
  lo -= pad;
  hi += pad;
}

const Rgb kGrey{200, 200, 200}, kBlue{30, 80, 200}, kDark{60, 60, 60};

}  // namespace

void write_scatter(const std::string& path, const Tensor& samples, const Tensor& reference) {
  std::vector<double> rx, ry, sx, sy;
  columns(reference, rx, ry);
  columns(samples, sx, sy);
  double lo, hi;
  square_bounds(rx, ry, lo, hi);
  Plot plot(520, 520, lo, hi, lo, hi);
  plot.points(rx, ry, kGrey, 1);
  plot.points(sx, sy, kBlue, 1);
  plot.write_png(path);
}

void write_trajectories(const std::string& path, const std::vector<Tensor>& frames,
                        int64_t max_paths) {
  MD_CHECK(!frames.empty() && frames[0].ndim() == 2 && frames[0].size(1) == 2,
           "write_trajectories: needs frames of 2-D points [N, 2]");
  const int64_t n = std::min(frames[0].size(0), max_paths);
  std::vector<std::vector<double>> px(n), py(n);
  std::vector<double> all_x, all_y;
  for (const Tensor& f : frames) {
    std::vector<float> v = f.to_vector();
    for (int64_t i = 0; i < n; ++i) {
      px[i].push_back(v[2 * i]);
      py[i].push_back(v[2 * i + 1]);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    all_x.insert(all_x.end(), px[i].begin(), px[i].end());
    all_y.insert(all_y.end(), py[i].begin(), py[i].end());
  }
  double lo, hi;
  square_bounds(all_x, all_y, lo, hi);
  Plot plot(520, 520, lo, hi, lo, hi);
  std::vector<double> sx, sy, ex, ey;
  for (int64_t i = 0; i < n; ++i) {
    plot.line(px[i], py[i], kGrey);
    sx.push_back(px[i].front());
    sy.push_back(py[i].front());
    ex.push_back(px[i].back());
    ey.push_back(py[i].back());
  }
  plot.points(sx, sy, kDark, 1);
  plot.points(ex, ey, kBlue, 2);
  plot.write_png(path);
}

void write_score_field(const std::string& path, const Denoiser& denoiser, double t,
                       const Tensor& points, Device device) {
  std::vector<double> rx, ry;
  columns(points, rx, ry);
  double lo, hi;
  square_bounds(rx, ry, lo, hi);
  const int kGrid = 21;
  std::vector<float> grid;
  for (int i = 0; i < kGrid; ++i)
    for (int j = 0; j < kGrid; ++j) {
      grid.push_back(static_cast<float>(lo + (hi - lo) * (j + 0.5) / kGrid));
      grid.push_back(static_cast<float>(lo + (hi - lo) * (i + 0.5) / kGrid));
    }
  NoGradGuard no_grad;
  Tensor x = from_data(grid, {kGrid * kGrid, 2}).to(device);
  std::vector<float> s = denoiser.score(x, time_batch(kGrid * kGrid, t, device)).to_vector();
  double longest = 1e-12;
  for (size_t k = 0; k + 1 < s.size(); k += 2) longest = std::max(longest, std::hypot(double(s[k]), double(s[k + 1])));
  const double scale = (hi - lo) / kGrid / longest;
  Plot plot(520, 520, lo, hi, lo, hi);
  plot.points(rx, ry, kGrey, 1);
  for (size_t k = 0; k + 1 < s.size(); k += 2)
    plot.arrow(grid[k], grid[k + 1], s[k] * scale, s[k + 1] * scale, kBlue);
  plot.write_png(path);
}

}  // namespace mindiff::diffusion
