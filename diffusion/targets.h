// Exact targets: distributions that `sample --target NAME` samples without a network, because
// their noised score is known in closed form (Gaussian mixtures, gmm.h) or their energy is
// (energy.h), and which have exact samples to compare against.
//
//   gmm8                  the toy set gmm8: 8 Gaussians of std 0.5 on a ring of radius 4
//   ring                  the toy set ring (radius 2, radial std 0.1) as 64 equal Gaussians of std
//                         0.1 evenly spaced on the circle: 1.96 stds apart, so the density along
//                         the circle ripples by about 1% (2 e^{-2 pi^2 / 1.96^2})
//   two-gaussians:D,TAU   Bach's synthetic mixture: two equal components
//                         N(+-3 (1, ..., 1), TAU^2 I) in D dimensions, means 6 (1, ..., 1)
//                         apart (defaults D = 2, TAU = 1; `two-gaussians:16` is D = 16)
//   double-well, funnel, banana   the energies of energy.h (Langevin and MALA only)
//   FILE                  a Gaussian mixture in a text file: one component per line,
//                             weight std mean_1 ... mean_D
//                         '#' starts a comment; weights must sum to 1 (within 1e-3; they are then
//                         normalised exactly)
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffusion/energy.h"
#include "diffusion/gmm.h"

namespace mindiff::diffusion {

// The forward process whose noised score `sample --target` gives the samplers unless --schedule
// says otherwise: a discrete DDPM, so that every sampler (ancestral and ddim included) runs.
constexpr const char* kTargetSchedule = "ddpm-linear";

struct ExactTarget {
  std::string name;                        // as given
  std::optional<GaussianMixture> mixture;  // a mixture target ...
  std::shared_ptr<const Energy> energy;    // ... or an energy
  int64_t dim() const;
  // n exact samples [n, D].
  Tensor exact_samples(int64_t n, uint64_t seed) const;
  // The components whose weights and spreads the acceptance checks count (sample_check.h): the
  // mixture's for gmm8, two-gaussians and files; none for ring (a curve), energies and toy sets.
  const GaussianMixture* modes() const;
};

// A built-in name, or else a file; an unknown name that is no readable file is an Error listing
// the names. (Front ends put the flag in front of the message.)
ExactTarget make_target(const std::string& spec);

// The mixture of a built-in mixture name (gmm8, ring, two-gaussians[:D[,TAU]]); false if the
// name is none of them. Errors for bad D or TAU name the value.
bool builtin_mixture(const std::string& spec, GaussianMixture& out);

// A mixture from the text of a mixture file (format above). Errors name `source` and the line:
// "FILE:LINE: ...".
GaussianMixture parse_mixture(const std::string& text, const std::string& source);

// The names `sample --target` takes besides files, for --help and errors.
std::string target_names();

}  // namespace mindiff::diffusion
