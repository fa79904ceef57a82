// sample: draws samples from a trained diffusion model.
//
//   ./sample                                        # a grid from the model that ships (models/)
//   ./sample --checkpoint runs/fashion-mnist --sampler ancestral --n 16 --out grid.png
//   ./sample --checkpoint runs/gmm8 --out points.npy
//   ./sample --n 1000 --out x.npy --score          # FD and class histogram against the test set
//   ./sample --score-file x.npy                    # the same for images already sampled
//
// Same seed, same samples, whatever --n, --batch or --threads: sample i's noise depends only on
// (seed, i). See --help for all flags.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cuda/backend.h"
#include "data/image_io.h"
#include "diffusion/flags.h"
#include "diffusion/model_io.h"
#include "diffusion/network_denoiser.h"
#include "diffusion/preview.h"
#include "diffusion/sample_quality.h"
#include "diffusion/sample_target.h"
#include "diffusion/sampler.h"

using namespace mindiff;
using namespace mindiff::diffusion;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Rows of samples, columns of frames from noise to data: [N * F, C, H, W] in row-major order.
Tensor trajectory_grid(const std::vector<Tensor>& frames) {
  const int64_t n = frames[0].size(0), f = static_cast<int64_t>(frames.size());
  const int64_t per = frames[0].numel() / n;
  std::vector<int64_t> dims = frames[0].shape().vec();
  dims[0] = n * f;
  Tensor grid = empty(Shape(dims));
  for (int64_t j = 0; j < f; ++j) {
    Tensor fr = frames[j].contiguous();
    for (int64_t i = 0; i < n; ++i)
      std::copy(fr.data() + i * per, fr.data() + (i + 1) * per, grid.data() + (i * f + j) * per);
  }
  return grid;
}

// Images are written as float32 in [-1, 1], as the data they model.
Tensor clamp_unit(const Tensor& x) {
  std::vector<float> v = x.to_vector();
  for (float& f : v) f = std::isnan(f) ? 0.0f : std::min(1.0f, std::max(-1.0f, f));
  return from_data(v, x.shape());
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("sample", "Draws samples from a trained diffusion model.");
  flags.add_string("checkpoint", "models/fashion-mnist.ckpt", "a checkpoint file, or a run folder");
  flags.add_string("sampler", "", "one of the samplers (default: dpm-solver++)");
  flags.add_int("steps", 0, "sampler steps (0: the sampler's default)");
  flags.add_int("n", 64, "how many samples");
  flags.add_int("batch", 64, "samples per network evaluation (memory; does not change results)");
  flags.add_int("seed", 0, "noise seed");
  flags.add_int("class", -1, "class to draw, for class-conditional models (-1: cycle through all)");
  flags.add_float("guidance", 0.0, "classifier-free guidance scale w (0: plain conditional)");
  flags.add_bool("ema", true, "use the EMA weights when the checkpoint has them");
  flags.add_float("eta", 0.0, "ddim: 0 deterministic, 1 ancestral-like");
  flags.add_bool("denoise-final", false, "finish with one Tweedie denoising step");
  flags.add_bool("clip", true, "image models: clip the denoised estimate to [-1, 1] at every step");
  flags.add_int("threads", 0, "CPU threads (0: all cores)");
  flags.add_string("device", "cpu", "cpu, or cuda (an NVIDIA GPU; `make cuda` builds sample_cuda)");
  flags.add_string("out", "samples.png", "a .png grid (scatter plot for 2-D models) or a .npy array");
  flags.add_string("trajectory", "", "also write x_t from noise to data as FILE.png");
  flags.add_string("score-field", "", "2-D models: also draw the score at --field-time as arrows in FILE.png");
  flags.add_float("field-time", -1.0, "time of the score field (< 0: the process's smallest time)");
  flags.add_bool("score", false, "score the samples: Frechet distance on the classifier's features "
                 "against its test set, with the floor of N training images, and the class histogram");
  flags.add_string("score-file", "", "score the images of FILE.npy (N, C, H, W) in [-1, 1] instead of sampling");
  flags.add_string("classifier", "models/classifier.ckpt", "the classifier for scoring (a file or a folder)");
  // ---- exact targets, sampler hyperparameters, likelihoods, checks (diffusion/sample_target.h) ----
  add_target_flags(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::printf("%s", flags.usage().c_str());
      return 0;
    }
    const int64_t n = flags.get_int("n"), batch = flags.get_int("batch");
    const std::string out = flags.get_string("out"), trajectory = flags.get_string("trajectory");
    MD_CHECK(n > 0, "--n must be positive, got ", n);
    MD_CHECK(batch > 0, "--batch must be positive, got ", batch);
    MD_CHECK(flags.get_int("seed") >= 0, "--seed must be >= 0");
    MD_CHECK(flags.get_int("threads") >= 0, "--threads must be >= 0");
    MD_CHECK(ends_with(out, ".png") || ends_with(out, ".npy"), "--out ", out,
             ": the name must end in .png or .npy");
    MD_CHECK(trajectory.empty() || ends_with(trajectory, ".png"), "--trajectory ", trajectory,
             ": the name must end in .png");
    if (flags.get_int("threads") > 0) omp_set_num_threads(static_cast<int>(flags.get_int("threads")));
    const TargetSettings extra = read_target_flags(flags);  // every value checked: nothing written yet
    if (!extra.target.empty()) return sample_target_command(flags, extra);
    const Device device = parse_device("device", flags.get_string("device"));
    if (device == Device::CUDA) {  // no usable GPU (or a build without CUDA): say so, exit 2
      cuda::require_available("--device cuda");
      std::printf("device: %s\n", cuda::device_description().c_str());
    }

    // ---- scoring (diffusion/sample_quality.h): a file now, or the samples drawn below ----
    std::optional<SampleScorer> scorer;
    const std::string score_file = flags.get_string("score-file");
    if (flags.get_bool("score") || !score_file.empty())
      scorer.emplace(flags.get_string("classifier"), static_cast<uint64_t>(flags.get_int("seed")));
    if (!score_file.empty()) {
      std::printf("%s", format_report(scorer->score(read_npy(score_file), {}, score_file)).c_str());
      return 0;
    }

    // ---- the model ----
    LoadedModel model = load_model(flags.get_string("checkpoint"), flags.get_bool("ema"));
    if (extra.likelihood) {
      print_model_likelihood(model, extra);
      return 0;
    }
    model.net->module().to(device);  // sampling runs where the weights are
    const int64_t classes = model.net->num_classes(), cls = flags.get_int("class");
    const double guidance = flags.get_float("guidance");
    MD_CHECK(cls == -1 || (cls >= 0 && cls < classes), "--class ", cls, ": the model has ",
             classes, classes == 1 ? " class" : " classes",
             classes == 0 ? " (it is unconditional)" : "");
    MD_CHECK(guidance == 0.0 || classes > 0, "--guidance needs a class-conditional model");
    if (scorer) {
      scorer->check_shape(model.net->sample_shape(), "--score: " + model.path);
      scorer->load_references();
    }
    std::string sampler = flags.get_string("sampler");
    if (sampler.empty()) sampler = kDefaultSampler;
    const std::vector<std::string> known = sampler_names();
    if (std::find(known.begin(), known.end(), sampler) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error("--sampler " + sampler + ": unknown sampler (known: " + list + ")");
    }

    SamplerOptions options;
    options.steps = static_cast<int>(flags.get_int("steps"));
    options.eta = flags.get_float("eta");
    options.denoise_final = flags.get_bool("denoise-final");
    options.seed = static_cast<uint64_t>(flags.get_int("seed"));
    options.trajectory_frames = trajectory.empty() ? 0 : 10;
    options.device = device;
    apply_sampler_flags(extra, options);
    const bool clip = flags.get_bool("clip") && model.net->sample_shape().ndim() == 3;
    std::printf("sampling %ld from %s (step %lu, %s weights) with %s\n", static_cast<long>(n),
                model.path.c_str(), static_cast<unsigned long>(model.step), model.weights.c_str(),
                sampler.c_str());

    // ---- sampling, in batches whose noise is fixed by the sample index ----
    NoGradGuard no_grad;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> parts, first_frames;
    int64_t evaluations = 0;
    for (int64_t first = 0; first < n; first += batch) {
      const int64_t count = std::min(batch, n - first);
      std::vector<int64_t> labels;
      if (classes > 0)
        for (int64_t i = 0; i < count; ++i) labels.push_back(cls >= 0 ? cls : (first + i) % classes);
      NetworkDenoiser network(model.net->model_fn(nullptr), model.kind, model.process, labels,
                              guidance);
      // Images live in [-1, 1]: clip the denoised estimate there (static thresholding).
      ClippedDenoiser clipped(network);
      const Denoiser& denoiser = clip ? static_cast<const Denoiser&>(clipped) : network;
      options.first_index = first;
      std::vector<int64_t> dims{count};
      for (int64_t d : model.net->sample_shape()) dims.push_back(d);
      SampleResult r = sample(sampler, denoiser, Shape(dims), options);
      evaluations += r.evaluations;
      parts.push_back(r.x.to(Device::CPU));  // output is written from host copies
      if (first == 0)  // the trajectory shows the first batch
        for (const Tensor& f : r.trajectory) first_frames.push_back(f.to(Device::CPU));
    }
    Tensor x = parts.size() == 1 ? parts[0] : concat(parts, 0);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("sampled %ld in %.2f s (%ld network evaluations per batch)\n", static_cast<long>(n),
                seconds, static_cast<long>(evaluations / static_cast<int64_t>(parts.size())));

    // ---- output ----
    const bool points = x.ndim() == 2;
    if (ends_with(out, ".npy")) {
      write_npy(out, points ? x : clamp_unit(x));
    } else if (points) {
      write_scatter(out, x, x);
    } else {
      write_image_grid(out, x, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
    }
    std::printf("wrote %s\n", out.c_str());
    if (!trajectory.empty()) {
      MD_CHECK(!first_frames.empty(), "--trajectory: sampler ", sampler, " kept no frames");
      if (points) {
        write_trajectories(trajectory, first_frames);
      } else {
        const int64_t rows = std::min<int64_t>(first_frames[0].size(0), 8);
        for (Tensor& f : first_frames) f = f.slice(0, 0, rows);
        write_image_grid(trajectory, trajectory_grid(first_frames), static_cast<int64_t>(first_frames.size()));
      }
      std::printf("wrote %s\n", trajectory.c_str());
    }
    if (!extra.check.empty())
      std::printf("%s", check_report(x, extra.check, options.seed).c_str());
    if (scorer) {
      // The class each sample was drawn for, when the model's classes are the classifier's.
      std::vector<int64_t> labels;
      if (classes > 0 && model.class_names == scorer->class_names())
        for (int64_t i = 0; i < n; ++i) labels.push_back(cls >= 0 ? cls : i % classes);
      std::printf("%s", format_report(scorer->score(clamp_unit(x), labels)).c_str());
    }
    const std::string field = flags.get_string("score-field");
    if (!field.empty()) {
      MD_CHECK(points && x.size(1) == 2, "--score-field draws 2-D models only");
      MD_CHECK(ends_with(field, ".png"), "--score-field ", field, ": the name must end in .png");
      double t = flags.get_float("field-time");
      if (t < 0) t = model.process->t_min();
      NetworkDenoiser denoiser(model.net->model_fn(nullptr), model.kind, model.process);
      write_score_field(field, denoiser, t, x, device);
      std::printf("wrote %s\n", field.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sample: %s\n", e.what());
    return 2;
  }
}
