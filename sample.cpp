// sample: draws samples from a trained diffusion model.
//
//   ./sample                                        # a grid from the model that ships (models/)
//   ./sample --checkpoint runs/fashion-mnist --sampler ancestral --n 16 --out grid.png
//   ./sample --checkpoint runs/gmm8 --out points.npy
//   ./sample --n 1000 --out x.npy --score          # FD and class histogram against the test set
//   ./sample --score-file x.npy                    # the same for images already sampled
//   ./sample --target gmm8 --sampler walk-jump --check gmm8   # an exact target, checked
//
// Same seed, same samples, whatever --n, --batch or --threads: sample i's noise depends only on
// (seed, i). Every setting, its default and its help are in diffusion/app/sample_settings.h (and
// `./sample --help`).
//
// The recipe below: load the model, build the sampler, sample, write, score. What it calls:
//   the samplers        diffusion/sampler.h (one table of them; each in its own file)
//   the network         diffusion/network_denoiser.h (its output as eps, classifier-free guidance)
//   scoring             diffusion/app/sample_quality.h (Frechet distance on a classifier's features)
//   exact targets, likelihoods, checks   diffusion/app/sample_target.h
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "data/image_io.h"
#include "diffusion/app/model_io.h"
#include "diffusion/app/preview.h"
#include "diffusion/app/sample_output.h"
#include "diffusion/app/sample_quality.h"
#include "diffusion/app/sample_settings.h"
#include "diffusion/app/sample_target.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/sampler.h"
#include "tensor/device_backend.h"
#include "tensor/precision.h"

using namespace mindiff;
using namespace mindiff::diffusion;

namespace {

// The class sample i is drawn for: --class, or the classes in turn (none for unconditional models).
std::vector<int64_t> labels_of(const SampleSettings& s, int64_t classes, int64_t first, int64_t count) {
  std::vector<int64_t> labels;
  if (classes > 0)
    for (int64_t i = first; i < first + count; ++i) labels.push_back(s.label >= 0 ? s.label : i % classes);
  return labels;
}

struct Drawn {
  Tensor x;                    // [N, ...] on the host
  std::vector<Tensor> frames;  // the first batch's trajectory, on the host
  int64_t evaluations = 0;     // per batch
};

// Samples in batches of --batch whose noise is fixed by the sample index (so the batch size
// never changes a sample).
Drawn draw(const SampleSettings& s, const LoadedModel& model, const std::string& sampler,
           SamplerOptions options) {
  // Images live in [-1, 1]: clip the denoised estimate there (static thresholding).
  const bool clip = s.clip && model.net->sample_shape().ndim() == 3;
  Drawn out;
  std::vector<Tensor> parts;
  for (int64_t first = 0; first < s.n; first += s.batch) {
    const int64_t count = std::min(s.batch, s.n - first);
    const NetworkDenoiser network(model.net->model_fn(nullptr), model.kind, model.process,
                                  labels_of(s, model.net->num_classes(), first, count), s.guidance);
    const ClippedDenoiser clipped(network);
    const Denoiser& denoiser = clip ? static_cast<const Denoiser&>(clipped) : network;
    options.first_index = first;
    std::vector<int64_t> dims{count};
    for (int64_t d : model.net->sample_shape()) dims.push_back(d);
    SampleResult r = sample(sampler, denoiser, Shape(dims), options);
    out.evaluations = r.evaluations;
    parts.push_back(r.x.to(Device::CPU));
    if (first == 0)
      for (const Tensor& f : r.trajectory) out.frames.push_back(f.to(Device::CPU));
    if (s.n > s.batch) {  // several batches: a long run says how far it is
      std::printf("  %ld of %ld sampled\n", static_cast<long>(first + count), static_cast<long>(s.n));
      std::fflush(stdout);  // seen at once, also through a pipe
    }
  }
  out.x = parts.size() == 1 ? parts[0] : concat(parts, 0);
  return out;
}

int run(const SampleSettings& s) {
  if (s.threads > 0) omp_set_num_threads(static_cast<int>(s.threads));
  if (!s.target.empty()) return sample_target_command(s);  // an exact target in place of a network
  const Device device = parse_device("device", s.device);
  if (device == Device::CUDA) {  // no usable GPU (or a build without CUDA): say so, exit 2
    cuda::require_available("--device cuda");
    set_cuda_precision(parse_run_precision(s.precision, device));
    std::printf("device: %s, %s\n", cuda::device_description().c_str(), s.precision.c_str());
  }
  std::optional<SampleScorer> scorer;
  if (s.score || !s.score_file.empty()) scorer.emplace(s.classifier, static_cast<uint64_t>(s.seed));
  if (!s.score_file.empty()) {  // images sampled before: score them and stop
    std::printf("%s", format_report(scorer->score(read_npy(s.score_file), {}, s.score_file)).c_str());
    return 0;
  }

  // ---- load the model ----
  const LoadedModel model = load_model(s.checkpoint, s.ema);
  if (s.likelihood) {  // bits/dim of the model's data instead of samples
    print_model_likelihood(model, s);
    return 0;
  }
  model.net->module().to(device);  // sampling runs where the weights are
  const int64_t classes = model.net->num_classes();
  MD_CHECK(s.label == -1 || s.label < classes, "--class ", s.label, ": the model has ", classes,
           classes == 1 ? " class" : " classes", classes == 0 ? " (it is unconditional)" : "");
  MD_CHECK(s.guidance == 0.0 || classes > 0, "--guidance needs a class-conditional model");
  if (scorer) {
    scorer->check_shape(model.net->sample_shape(), "--score: " + model.path);
    scorer->load_references();
  }

  // ---- build the sampler ----
  const SamplerChoice sampler =
      choose_sampler(s, default_sampler(*model.process, model.net->sample_shape()), device);
  std::printf("sampling %ld from %s (step %lu, %s weights) with %s\n", static_cast<long>(s.n),
              model.path.c_str(), static_cast<unsigned long>(model.step), model.weights.c_str(),
              sampler.name.c_str());
  std::fflush(stdout);

  // ---- sample ----
  NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  const Drawn drawn = draw(s, model, sampler.name, sampler.options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sampled %ld in %.2f s (%ld network evaluations per batch)\n", static_cast<long>(s.n),
              seconds, static_cast<long>(drawn.evaluations));

  // ---- write ----
  const Tensor x = as_data(drawn.x, "sample");
  write_samples(s.out, x);
  std::printf("wrote %s\n", s.out.c_str());
  if (!s.trajectory.empty()) {
    write_trajectory(s.trajectory, drawn.frames);
    std::printf("wrote %s\n", s.trajectory.c_str());
  }
  if (!s.score_field.empty()) {
    MD_CHECK(x.ndim() == 2 && x.size(1) == 2, "--score-field draws 2-D models only");
    const double t = s.field_time < 0 ? model.process->t_min() : s.field_time;
    const NetworkDenoiser denoiser(model.net->model_fn(nullptr), model.kind, model.process);
    write_score_field(s.score_field, denoiser, t, x, device);
    std::printf("wrote %s\n", s.score_field.c_str());
  }

  // ---- check: against as many exact draws of --check's target or toy set ----
  if (!s.check.empty())
    std::printf("%s", check_report(x, s.check, static_cast<uint64_t>(s.seed)).c_str());

  // ---- score: against the test set, and the class asked for when the classes are the scorer's ----
  if (scorer) {
    const bool same_classes = classes > 0 && model.class_names == scorer->class_names();
    const std::vector<int64_t> asked = same_classes ? labels_of(s, classes, 0, s.n) : std::vector<int64_t>{};
    std::printf("%s", format_report(scorer->score(x, asked)).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    SampleSettings s;
    if (!parse_sample_settings(argc, argv, s)) return 0;  // --help
    return run(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sample: %s\n", e.what());
    return 2;
  }
}
