#include "data/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "data/image_io.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace mindiff {

namespace {

// 3x5 glyphs, one row per 3-bit value, top row first: digits, '.', '-', 'e', '+'.
const char* kGlyphChars = "0123456789.-e+";
const uint8_t kGlyphs[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0}, {0, 7, 5, 6, 3}, {0, 2, 7, 2, 0}};

std::string tick_label(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) < 1e-2 || std::fabs(v) >= 1e4))
    std::snprintf(buf, sizeof buf, "%.0e", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

Plot::Plot(int width, int height, double x0, double x1, double y0, double y1, bool log_y)
    : w_(width), h_(height), x0_(x0), x1_(x1), y0_(y0), y1_(y1), log_y_(log_y) {
  MD_CHECK(width > 64 && height > 48, "Plot: canvas ", width, "x", height, " is too small");
  MD_CHECK(x1 > x0 && y1 > y0, "Plot: empty range [", x0, ", ", x1, "] x [", y0, ", ", y1, "]");
  MD_CHECK(!log_y || y0 > 0, "Plot: a log scale needs positive y, got ", y0);
  if (log_y) {
    y0_ = std::log10(y0);
    y1_ = std::log10(y1);
  }
  rgb_.assign(static_cast<size_t>(w_) * h_ * 3, 255);
}

double Plot::px_of(double x) const {
  return margin_left_ + (x - x0_) / (x1_ - x0_) * (w_ - margin_left_ - margin_right_);
}

double Plot::py_of(double y) const {
  double v = log_y_ ? std::log10(std::max(y, 1e-30)) : y;
  return h_ - margin_bottom_ - (v - y0_) / (y1_ - y0_) * (h_ - margin_top_ - margin_bottom_);
}

void Plot::set(int px, int py, Rgb c) {
  if (px < 0 || py < 0 || px >= w_ || py >= h_) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(py) * w_ + px) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Plot::segment(double ax, double ay, double bx, double by, Rgb c) {
  // Sample the segment at sub-pixel spacing: simple and gap-free for the short segments here.
  if (!std::isfinite(ax) || !std::isfinite(ay) || !std::isfinite(bx) || !std::isfinite(by)) return;
  int n = static_cast<int>(std::max(std::fabs(bx - ax), std::fabs(by - ay)) * 2) + 1;
  n = std::min(n, 4 * (w_ + h_));  // a wild point far off the canvas must not stall the loop
  for (int i = 0; i <= n; ++i) {
    double f = static_cast<double>(i) / n;
    set(static_cast<int>(std::lround(ax + f * (bx - ax))), static_cast<int>(std::lround(ay + f * (by - ay))), c);
  }
}

void Plot::line(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color) {
  MD_CHECK(xs.size() == ys.size(), "Plot::line: ", xs.size(), " x values but ", ys.size(), " y values");
  for (size_t i = 1; i < xs.size(); ++i)
    segment(px_of(xs[i - 1]), py_of(ys[i - 1]), px_of(xs[i]), py_of(ys[i]), color);
}

void Plot::points(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color,
                  int radius) {
  MD_CHECK(xs.size() == ys.size(), "Plot::points: ", xs.size(), " x values but ", ys.size(), " y values");
  for (size_t i = 0; i < xs.size(); ++i) {
    double cx = px_of(xs[i]), cy = py_of(ys[i]);
    if (!std::isfinite(cx) || !std::isfinite(cy)) continue;
    for (int dy = -radius; dy <= radius; ++dy)
      for (int dx = -radius; dx <= radius; ++dx)
        if (dx * dx + dy * dy <= radius * radius)
          set(static_cast<int>(std::lround(cx)) + dx, static_cast<int>(std::lround(cy)) + dy, color);
  }
}

void Plot::arrow(double x, double y, double dx, double dy, Rgb color) {
  double ax = px_of(x), ay = py_of(y), bx = px_of(x + dx), by = py_of(y + dy);
  segment(ax, ay, bx, by, color);
  // Head: two short strokes at +-25 degrees back from the tip.
  double len = std::hypot(bx - ax, by - ay);
  if (len < 2) return;
  double ux = (ax - bx) / len, uy = (ay - by) / len, head = std::min(4.0, len / 2);
  const double c = std::cos(0.44), s = std::sin(0.44);
  segment(bx, by, bx + head * (ux * c - uy * s), by + head * (ux * s + uy * c), color);
  segment(bx, by, bx + head * (ux * c + uy * s), by + head * (-ux * s + uy * c), color);
}

void Plot::text(int px, int py, const std::string& s, Rgb c) {
  for (char ch : s) {
    const char* pos = std::strchr(kGlyphChars, ch);
    if (ch != '\0' && pos) {
      const uint8_t* g = kGlyphs[pos - kGlyphChars];
      for (int r = 0; r < 5; ++r)
        for (int col = 0; col < 3; ++col)
          if (g[r] & (4 >> col)) set(px + col, py + r, c);
    }
    px += 4;
  }
}

void Plot::frame_and_ticks() {
  const Rgb kFrame{90, 90, 90};
  int l = margin_left_, r = w_ - margin_right_, t = margin_top_, b = h_ - margin_bottom_;
  segment(l, t, r, t, kFrame);
  segment(l, b, r, b, kFrame);
  segment(l, t, l, b, kFrame);
  segment(r, t, r, b, kFrame);
  const int kTicks = 4;
  for (int i = 0; i <= kTicks; ++i) {
    double fx = static_cast<double>(i) / kTicks;
    int px = static_cast<int>(l + fx * (r - l));
    segment(px, b, px, b + 3, kFrame);
    std::string xl = tick_label(x0_ + fx * (x1_ - x0_));
    text(px - static_cast<int>(xl.size()) * 2, b + 5, xl, kFrame);
    int py = static_cast<int>(b - fx * (b - t));
    segment(l - 3, py, l, py, kFrame);
    double yv = y0_ + fx * (y1_ - y0_);
    std::string yl = tick_label(log_y_ ? std::pow(10.0, yv) : yv);
    text(l - 5 - static_cast<int>(yl.size()) * 4, py - 2, yl, kFrame);
  }
}

void Plot::write_png(const std::string& path) {
  frame_and_ticks();
  // Reuse the grid writer: the canvas as one [1, 3, H, W] image in [-1, 1].
  Tensor img = empty({1, 3, h_, w_});
  float* p = img.data();
  for (int c = 0; c < 3; ++c)
    for (int64_t i = 0; i < static_cast<int64_t>(w_) * h_; ++i)
      p[c * w_ * h_ + i] = rgb_[i * 3 + c] / 127.5f - 1.0f;
  write_image_grid(path, img, 1, 0);
}

}  // namespace mindiff
