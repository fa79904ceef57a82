// Separable area-averaging / bilinear resizing; see resize.h for the formulas.
#include "data/resize.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace mindiff {

namespace {

// Output o (one of first .. first + count - 1, of an axis resized from `in` to `out` pixels)
// reads input[index[k]] * weight[k] for k in [begin[o - first], begin[o - first + 1]).
struct AxisWeights {
  std::vector<int64_t> begin, index;
  std::vector<float> weight;
};

AxisWeights axis_weights(int64_t in, int64_t out, int64_t first, int64_t count) {
  AxisWeights a;
  const double s = double(in) / double(out);
  a.begin.push_back(0);
  for (int64_t o = first; o < first + count; ++o) {
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

// Rows [top, top + WH) and columns [left, left + WW) of `in` (C planes of H x W) resized to
// OH x OW, computing only that window: C planes of WH x WW. Time and memory follow the window
// and the input rows it reads, never OH x OW, which for a long thin image is enormous: the long
// side of a 1,000,000 x 1 image resized to a short side of 32 is 32 million pixels.
std::vector<float> resize_window(const float* in, int64_t C, int64_t H, int64_t W, int64_t OH,
                                 int64_t OW, int64_t top, int64_t left, int64_t WH, int64_t WW) {
  MD_CHECK(C > 0 && H > 0 && W > 0 && OH > 0 && OW > 0, "resize: bad sizes: [", C, ", ", H, ", ",
           W, "] -> [", C, ", ", OH, ", ", OW, "]");
  const AxisWeights wx = axis_weights(W, OW, left, WW), wy = axis_weights(H, OH, top, WH);
  // The input rows the window reads: [y0, y1).
  const int64_t y0 = *std::min_element(wy.index.begin(), wy.index.end());
  const int64_t y1 = *std::max_element(wy.index.begin(), wy.index.end()) + 1;
  const int64_t rows = y1 - y0;
  // Pass 1 along W: tmp[c, y - y0, ox] = sum_k in[c, y, wx.index[k]] * wx.weight[k].
  std::vector<float> tmp(size_t(C * rows * WW));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = y0; y < y1; ++y) {
      const float* row = in + (c * H + y) * W;
      float* dst = tmp.data() + (c * rows + y - y0) * WW;
      for (int64_t ox = 0; ox < WW; ++ox) {
        float acc = 0;
        for (int64_t k = wx.begin[ox]; k < wx.begin[ox + 1]; ++k)
          acc += row[wx.index[k]] * wx.weight[k];
        dst[ox] = acc;
      }
    }
  // Pass 2 along H: out[c, oy, x] = sum_k tmp[c, wy.index[k] - y0, x] * wy.weight[k].
  std::vector<float> out(size_t(C * WH * WW), 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t oy = 0; oy < WH; ++oy) {
      float* dst = out.data() + (c * WH + oy) * WW;
      for (int64_t k = wy.begin[oy]; k < wy.begin[oy + 1]; ++k) {
        const float* src = tmp.data() + (c * rows + wy.index[k] - y0) * WW;
        const float w = wy.weight[k];
        for (int64_t x = 0; x < WW; ++x) dst[x] += src[x] * w;
      }
    }
  return out;
}

}  // namespace

std::vector<float> resize_chw(const float* in, int64_t C, int64_t H, int64_t W, int64_t OH,
                              int64_t OW) {
  return resize_window(in, C, H, W, OH, OW, 0, 0, OH, OW);
}

std::vector<float> resize_short_side_center_crop(const float* in, int64_t C, int64_t H, int64_t W,
                                                 int64_t size) {
  MD_CHECK(size > 0, "resize: target size must be positive, got ", size);
  // The short side becomes `size`; the long side scales by the same factor, rounded, and is at
  // least `size` so the crop fits. Only the central size x size window is computed.
  int64_t OH = size, OW = size;
  if (H < W) OW = std::max(size, int64_t(std::llround(double(W) * size / H)));
  if (W < H) OH = std::max(size, int64_t(std::llround(double(H) * size / W)));
  return resize_window(in, C, H, W, OH, OW, (OH - size) / 2, (OW - size) / 2, size, size);
}

}  // namespace mindiff
