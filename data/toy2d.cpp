// 2-D toy sets; see toy2d.h for each distribution.
#include "data/toy2d.h"

#include <cmath>

#include "tensor/error.h"

namespace mindiff {

namespace {

constexpr float kPi = 3.14159265358979323846f;
constexpr float kNoise = 0.1f;  // std of the additive noise of moons, swiss roll and ring

// Uniform u in (0, 1] (philox_uniform01: u = j / 2^24, j = 1..2^24) -> integer in [0, k):
// ceil(k u) - 1, exactly uniform when k divides 2^24.
int64_t uniform_index(float u, int64_t k) {
  int64_t i = int64_t(std::ceil(u * float(k))) - 1;
  return i < 0 ? 0 : (i >= k ? k - 1 : i);
}

// Samples into out [n, 2]; `component` gets the gmm8 component (or -1). Draw order:
// uniforms [n, 3] then normals [n, 2] from `gen`, used per point as (u0, u1, u2) and (z0, z1).
void sample(const std::string& name, int64_t n, Generator& gen, float* out,
            std::vector<int64_t>& component) {
  bool known = false;
  for (const std::string& k : toy2d_names()) known = known || k == name;
  if (!known) {
    std::string list;
    for (const std::string& k : toy2d_names()) list += (list.empty() ? "" : ", ") + k;
    MD_CHECK(false, "toy2d: unknown data set '", name, "' (known: ", list, ")");
  }
  MD_CHECK(n > 0, "toy2d: number of points must be positive, got ", n);
  const Tensor u = rand({n, 3}, gen), z = randn({n, 2}, gen);
  const float* U = u.data();
  const float* Z = z.data();
  component.assign(size_t(n), -1);
  for (int64_t i = 0; i < n; ++i) {
    const float u0 = U[3 * i], u1 = U[3 * i + 1], u2 = U[3 * i + 2];
    const float z0 = Z[2 * i], z1 = Z[2 * i + 1];
    float x = 0, y = 0;
    if (name == "gmm8") {
      const int64_t k = uniform_index(u0, 8);
      const auto& mu = gmm8_mixture().means[size_t(k)];
      x = mu[0] + kGmm8Std * z0;
      y = mu[1] + kGmm8Std * z1;
      component[size_t(i)] = k;
    } else if (name == "checkerboard") {
      // Column c = floor(x) in {-2..1}; the black rows of column c are those with the same
      // parity p as c: {p - 2, p}; pick one with u1, then a uniform point inside the square.
      x = 4.0f * (1.0f - u0) - 2.0f;  // 1 - u is in [0, 1)
      const int64_t c = int64_t(std::floor(x));
      const int64_t p = ((c % 2) + 2) % 2;
      const int64_t row = p - 2 + 2 * uniform_index(u1, 2);
      y = float(row) + (1.0f - u2);
    } else if (name == "moons") {
      const float t = kPi * u1;
      float mx = std::cos(t), my = std::sin(t);
      if (uniform_index(u0, 2) == 1) mx = 1.0f - mx, my = 0.5f - my;
      x = 2.0f * (mx - 0.5f) + kNoise * z0;
      y = 2.0f * (my - 0.25f) + kNoise * z1;
    } else if (name == "swissroll") {
      const float t = 1.5f * kPi * (1.0f + 2.0f * u0);
      x = t * std::cos(t) / 5.0f + kNoise * z0;
      y = t * std::sin(t) / 5.0f + kNoise * z1;
    } else {  // ring
      const float theta = 2.0f * kPi * u0, r = 2.0f + kNoise * z0;
      x = r * std::cos(theta);
      y = r * std::sin(theta);
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
}

}  // namespace

const std::vector<std::string>& toy2d_names() {
  static const std::vector<std::string> kNames = {"gmm8", "checkerboard", "moons",
                                                  "swissroll", "ring"};
  return kNames;
}

const GaussianMixture2D& gmm8_mixture() {
  static const GaussianMixture2D kMix = [] {
    GaussianMixture2D m;
    for (int k = 0; k < 8; ++k) {
      const double a = 2.0 * 3.14159265358979323846 * k / 8.0;
      m.means.push_back({float(kGmm8Radius * std::cos(a)),
                         float(kGmm8Radius * std::sin(a))});
    }
    m.std = kGmm8Std;
    m.weights.assign(8, 1.0f / 8.0f);
    return m;
  }();
  return kMix;
}

Tensor toy2d(const std::string& name, int64_t n, Generator& gen) {
  Tensor out = empty({n > 0 ? n : 0, 2});
  std::vector<int64_t> component;
  sample(name, n, gen, out.data(), component);
  return out;
}

Tensor toy2d(const std::string& name, int64_t n, uint64_t seed) {
  Generator gen(seed);
  return toy2d(name, n, gen);
}

Dataset toy2d_dataset(const std::string& name, int64_t n, uint64_t seed) {
  Generator gen(seed);
  Dataset ds;
  ds.name = "toy2d/" + name;
  ds.images = empty({n > 0 ? n : 0, 2});
  std::vector<int64_t> component;
  sample(name, n, gen, ds.images.data(), component);
  if (name == "gmm8") {
    ds.labels = component;
    ds.num_classes = 8;
  }
  return ds;
}

}  // namespace mindiff
