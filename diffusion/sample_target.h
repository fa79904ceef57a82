// What `sample` does beyond drawing from a trained network: sampling an exact target
// (--target, targets.h) with any sampler and any output, likelihoods (--likelihood,
// likelihood_report.h), and checks of samples against exact draws (--check, sample_check.h).
// Its flags, the sampler flags of sampler_flags.h among them, are one table added by
// add_target_flags() and read, every value checked before anything is written, by
// read_target_flags(); sample.cpp then calls the functions below.
#pragma once
#include <string>

#include "diffusion/flags.h"
#include "diffusion/likelihood_report.h"
#include "diffusion/model_io.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion {

struct TargetSettings {
  std::string target;        // --target ("": a trained network)
  std::string schedule;      // --schedule: the process of an exact mixture
  SamplerOptions sampler;    // the sampler hyperparameters of the flags (sampler_flags.h)
  bool likelihood = false;   // --likelihood
  int64_t likelihood_n = 0;  // --likelihood-n
  LikelihoodSettings likelihood_settings;
  std::string check;  // --check NAME ("": none)
};

void add_target_flags(Flags& flags);
TargetSettings read_target_flags(const Flags& flags);
// Copies the sampler hyperparameters of the flags into `options`.
void apply_sampler_flags(const TargetSettings& s, SamplerOptions& options);

// `sample --target ...`: samples (or scores, with --likelihood) the exact target and writes the
// outputs the flags ask for, as for a network. Returns the exit status.
int sample_target_command(const Flags& flags, const TargetSettings& s);

// `sample --likelihood` for a trained model: N points of the data it was trained on (fresh draws
// of a toy set, or the test split of an image set).
void print_model_likelihood(const LoadedModel& model, const TargetSettings& s);

// `--check NAME`: the statistics of sample_check.h for x against exact draws of NAME (a target
// or a 2-D toy set) of the same size, as text.
std::string check_report(const Tensor& x, const std::string& name, uint64_t seed);

}  // namespace mindiff::diffusion
