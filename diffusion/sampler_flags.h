// The command-line flags of every sampler hyperparameter (SamplerOptions), as one table: name,
// default, help and check. A front end adds them with add_sampler_flags() and reads them with
// read_sampler_flags(), which refuses a bad value with a message naming the flag and the value
// (so nothing is written). Settings whose default is a rule of the sampler (sampler.cpp) take
// "auto", which is their default.
#pragma once
#include "diffusion/flags.h"
#include "diffusion/sampler.h"

namespace mindiff::diffusion {

void add_sampler_flags(Flags& flags);
// The whole of `text` as a finite number (the parser of these flags and of mixture files).
bool parse_finite_number(const std::string& text, double& out);
// Sets the hyperparameters of `options` from the flags (the others are left as they are).
void read_sampler_flags(const Flags& flags, SamplerOptions& options);

}  // namespace mindiff::diffusion
