// Helpers shared by the rungs of conv2d's CPU ladder (see conv2d_kernels.h): the range of valid
// output columns and the zero-padded image that rungs 2 and 3 read in place.
#include "tensor/ops/conv2d_kernels.h"

namespace mindiff {

void valid_columns(const Conv2dGeometry& g, int64_t kw, int64_t* lo, int64_t* hi) {
  const int64_t first = g.P - kw;          // need j*S >= P - kw
  const int64_t last = g.W - 1 + g.P - kw;  // need j*S <= W - 1 + P - kw
  *lo = first <= 0 ? 0 : std::min(g.WO, (first + g.S - 1) / g.S);
  *hi = last < 0 ? 0 : std::min(g.WO, last / g.S + 1);
  *hi = std::max(*hi, *lo);
}

PaddedLayout padded_layout(const Conv2dGeometry& g, int64_t images) {
  const int64_t HP = g.H + 2 * g.P, WP = g.W + 2 * g.P;
  PaddedLayout l{HP, WP, (g.HO - 1) * WP + g.WO, g.C * HP * WP, {}, {}};
  l.row_offsets.resize(g.rows());
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw)
        l.row_offsets[(c * g.KH + kh) * g.KW + kw] = c * HP * WP + kh * WP + kw;
  l.positions.resize(images * g.cols());
  for (int64_t b = 0; b < images; ++b)
    for (int64_t i = 0; i < g.HO; ++i)
      for (int64_t j = 0; j < g.WO; ++j)
        l.positions[(b * g.HO + i) * g.WO + j] = b * l.image_floats + (i * WP + j) * g.S;
  return l;
}

void pad_image(const float* xb, const Conv2dGeometry& g, const PaddedLayout& l, float* padded,
               bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h)
      copy_row(xb + (c * g.H + h) * g.W, padded + (c * l.HP + h + g.P) * l.WP + g.P, g.W);
}

}  // namespace mindiff
