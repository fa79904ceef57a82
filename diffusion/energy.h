// Densities given by their energy: p(x) = e^{-f(x)} / Z with f known and Z not (Peyre, section 1;
// Bach: "f given, without Z"). They are sampled by the Langevin chains of langevin_walk.h, which
// need only the score grad log p = -grad f (and, for the Metropolis-adjusted chain, f itself):
// grad f comes from mindiff's own autograd, f being written with differentiable ops.
//
// Built in, all in 2-D so they can be drawn:
//   double-well  f = h (x1^2 - 1)^2 + x2^2 / 2 with h = 2: two wells at x1 = +-1, a barrier of
//                h = 2 nats between them (the density at the saddle is e^-2 of the peaks')
//   funnel       Neal's funnel (Neal 2003, "Slice sampling"): v = x2 ~ N(0, 3^2) and
//                x1 | v ~ N(0, e^v), f = v^2 / 18 + v / 2 + x1^2 e^{-v} / 2: a wide mouth and a
//                narrow neck whose curvature e^{-v} no single step size suits
//   banana       x1 ~ N(0, 2^2), x2 | x1 ~ N(x1^2 / 4 - 1, 1/2^2),
//                f = x1^2 / 8 + 2 (x2 - x1^2/4 + 1)^2
//                (a twisted Gaussian in the manner of Haario, Saksman & Tamminen 1999)
//
// Each also draws exact samples (for the acceptance checks) and states the two length scales the
// step rules of langevin_walk.h need: the smallest, s with f's curvature at most 1 / s^2 where the
// samples are, and the largest, the slowest direction's standard deviation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace mindiff::diffusion {

class Energy {
 public:
  virtual ~Energy() = default;
  virtual std::string name() const = 0;
  virtual int64_t dim() const = 0;
  // f(x) for x [B, D] as a [B] tensor of differentiable ops.
  virtual Tensor f(const Tensor& x) const = 0;
  // The step rules' length scales (above), and the std of the chains' starting N(0, start^2 I).
  virtual double smallest_scale() const = 0;
  virtual double largest_scale() const = 0;
  virtual double start_std() const = 0;
  // n exact samples [n, D] from `seed`.
  virtual Tensor exact_samples(int64_t n, uint64_t seed) const = 0;
  // What the density looks like, in a line (for --help and the docs).
  virtual std::string summary() const = 0;

  // The score -grad f(x) [B, D] (autograd through f, whatever the grad mode of the caller) and the
  // log-density -f(x) up to log Z, per row. x may be on any device; the result is on x's.
  Tensor score(const Tensor& x) const;
  std::vector<double> log_density(const Tensor& x) const;
};

// "double-well", "funnel", "banana"; anything else is an Error listing them.
std::shared_ptr<const Energy> make_energy(const std::string& name);
const std::vector<std::string>& energy_names();

}  // namespace mindiff::diffusion
