// Small plots written as PNG, with no plotting library: line charts (the training loss), scatter
// plots (2-D samples over a density), polylines (trajectories) and arrows (score fields).
//
// A Plot maps data coordinates (x right, y up) onto a pixel canvas inside a margin, draws a frame
// with tick labels in a built-in 3x5 digit font, and writes itself atomically (data/image_io.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mindiff {

struct Rgb {
  uint8_t r, g, b;
};

class Plot {
 public:
  // Canvas of width x height pixels showing [x0, x1] x [y0, y1]; log_y plots log10 of y values
  // (y0, y1 given in data units, > 0).
  Plot(int width, int height, double x0, double x1, double y0, double y1, bool log_y = false);

  void line(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color);
  void points(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color,
              int radius = 1);
  void arrow(double x, double y, double dx, double dy, Rgb color);  // from (x, y) to (x+dx, y+dy)
  // Shades every pixel of the plot area by value(x, y) in [0, 1] (0 white, 1 `color`).
  template <class F>
  void shade(F value, Rgb color);

  void write_png(const std::string& path);  // draws the frame and ticks, then writes

 private:
  void set(int px, int py, Rgb c);
  void segment(double ax, double ay, double bx, double by, Rgb c);  // pixel coordinates
  double px_of(double x) const;
  double py_of(double y) const;
  void frame_and_ticks();
  void text(int px, int py, const std::string& s, Rgb c);  // digits, '.', '-', 'e', '+'

  int w_, h_;
  double x0_, x1_, y0_, y1_;
  bool log_y_;
  int margin_left_ = 34, margin_bottom_ = 14, margin_top_ = 6, margin_right_ = 8;
  std::vector<uint8_t> rgb_;
};

template <class F>
void Plot::shade(F value, Rgb color) {
  for (int py = margin_top_; py < h_ - margin_bottom_; ++py)
    for (int px = margin_left_; px < w_ - margin_right_; ++px) {
      double x = x0_ + (px - margin_left_ + 0.5) / (w_ - margin_left_ - margin_right_) * (x1_ - x0_);
      double y = y1_ - (py - margin_top_ + 0.5) / (h_ - margin_top_ - margin_bottom_) * (y1_ - y0_);
      double v = value(x, y);
      v = v < 0 ? 0 : (v > 1 ? 1 : v);
      set(px, py, Rgb{static_cast<uint8_t>(255 - v * (255 - color.r)),
                      static_cast<uint8_t>(255 - v * (255 - color.g)),
                      static_cast<uint8_t>(255 - v * (255 - color.b))});
    }
}

}  // namespace mindiff
