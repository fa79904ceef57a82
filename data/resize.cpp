// Separable area-averaging / bilinear resizing; see resize.h for the formulas.
#include "data/resize.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace mindiff {

namespace {

// Output index o of one axis reads input[index[k]] * weight[k] for k in [begin[o], begin[o + 1]).
struct AxisWeights {
  std::vector<int64_t> begin, index;
  std::vector<float> weight;
};

AxisWeights axis_weights(int64_t in, int64_t out) {
  AxisWeights a;
  const double s = double(in) / double(out);
  a.begin.push_back(0);
  for (int64_t o = 0; o < out; ++o) {
    if (out < in) {
      // Area: overlap of input pixel i = [i, i + 1) with [lo, hi), divided by the length s.
      const double lo = o * s, hi = (o + 1) * s;
      const int64_t i0 = int64_t(std::floor(lo)), i1 = std::min(in, int64_t(std::ceil(hi)));
      for (int64_t i = i0; i < i1; ++i) {
        const double overlap = std::min(hi, double(i + 1)) - std::max(lo, double(i));
        if (overlap <= 0) continue;
        a.index.push_back(i);
        a.weight.push_back(float(overlap / s));
      }
    } else {
      // Bilinear: x is the input coordinate of the output pixel's centre, in pixel-index units.
      const double x = std::clamp((o + 0.5) * s - 0.5, 0.0, double(in - 1));
      const int64_t i0 = int64_t(std::floor(x)), i1 = std::min(in - 1, i0 + 1);
      const double f = x - double(i0);
      a.index.push_back(i0);
      a.weight.push_back(float(1.0 - f));
      if (f > 0) {
        a.index.push_back(i1);
        a.weight.push_back(float(f));
      }
    }
    a.begin.push_back(int64_t(a.index.size()));
  }
  return a;
}

}  // namespace

std::vector<float> resize_chw(const float* in, int64_t C, int64_t H, int64_t W, int64_t OH,
                              int64_t OW) {
  MD_CHECK(C > 0 && H > 0 && W > 0 && OH > 0 && OW > 0, "resize: bad sizes: [", C, ", ", H, ", ",
           W, "] -> [", C, ", ", OH, ", ", OW, "]");
  const AxisWeights wx = axis_weights(W, OW), wy = axis_weights(H, OH);
  // Pass 1 along W: tmp[c, y, ox] = sum_k in[c, y, wx.index[k]] * wx.weight[k].
  std::vector<float> tmp(size_t(C * H * OW));
  for (int64_t cy = 0; cy < C * H; ++cy) {
    const float* row = in + cy * W;
    float* dst = tmp.data() + cy * OW;
    for (int64_t ox = 0; ox < OW; ++ox) {
      float acc = 0;
      for (int64_t k = wx.begin[ox]; k < wx.begin[ox + 1]; ++k) acc += row[wx.index[k]] * wx.weight[k];
      dst[ox] = acc;
    }
  }
  // Pass 2 along H: out[c, oy, x] = sum_k tmp[c, wy.index[k], x] * wy.weight[k].
  std::vector<float> out(size_t(C * OH * OW), 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t oy = 0; oy < OH; ++oy) {
      float* dst = out.data() + (c * OH + oy) * OW;
      for (int64_t k = wy.begin[oy]; k < wy.begin[oy + 1]; ++k) {
        const float* src = tmp.data() + (c * H + wy.index[k]) * OW;
        const float w = wy.weight[k];
        for (int64_t x = 0; x < OW; ++x) dst[x] += src[x] * w;
      }
    }
  return out;
}

std::vector<float> resize_short_side_center_crop(const float* in, int64_t C, int64_t H, int64_t W,
                                                 int64_t size) {
  MD_CHECK(size > 0, "resize: target size must be positive, got ", size);
  // The short side becomes `size`; the long side scales by the same factor, rounded, and is at
  // least `size` so the crop fits.
  int64_t OH = size, OW = size;
  if (H < W) OW = std::max(size, int64_t(std::llround(double(W) * size / H)));
  if (W < H) OH = std::max(size, int64_t(std::llround(double(H) * size / W)));
  std::vector<float> full = resize_chw(in, C, H, W, OH, OW);
  const int64_t top = (OH - size) / 2, left = (OW - size) / 2;
  std::vector<float> out(size_t(C * size * size));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < size; ++y)
      std::copy_n(full.data() + (c * OH + top + y) * OW + left, size,
                  out.data() + (c * size + y) * size);
  return out;
}

}  // namespace mindiff
