// What `sample` does beyond drawing from a trained network: sampling an exact target (--target,
// diffusion/targets.h) with any sampler and any output, likelihoods (--likelihood,
// diffusion/likelihood_report.h), and checks of samples against exact draws (--check,
// diffusion/sample_check.h). Their settings are rows of sample_settings.h, every value and every
// relation between them checked by parse_sample_settings() before anything is written; sample.cpp
// calls the functions below.
#pragma once
#include <string>

#include "diffusion/app/model_io.h"
#include "diffusion/app/sample_settings.h"

namespace mindiff::diffusion {

// `sample --target ...`: samples (or scores, with --likelihood) the exact target and writes the
// outputs the settings ask for, as for a network. Returns the exit status.
int sample_target_command(const SampleSettings& s);

// `sample --likelihood` for a trained model: --likelihood-n points of the data it was trained on
// (fresh draws of a toy set, or the test split of an image set).
void print_model_likelihood(const LoadedModel& model, const SampleSettings& s);

// `--check NAME`: the statistics of sample_check.h for x against exact draws of NAME (a target
// or a 2-D toy set) of the same size, as text.
std::string check_report(const Tensor& x, const std::string& name, uint64_t seed);
// An Error when NAME is neither a target nor a 2-D toy set (what --check takes).
void check_reference_name(const std::string& name);

}  // namespace mindiff::diffusion
