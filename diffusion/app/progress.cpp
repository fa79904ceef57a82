#include "diffusion/app/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mindiff::diffusion {

std::string format_duration(double s) {
  char buf[32];
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(int64_t first, int64_t total, int64_t log_every)
    : tty_(::isatty(STDOUT_FILENO) != 0),
      first_(first),
      total_(total),
      log_every_(log_every > 0 ? log_every : 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, double loss) {
  // Exponential moving average, so the number shown is readable rather than jumping each step.
  smoothed_ = have_loss_ ? 0.98 * smoothed_ + 0.02 * loss : loss;
  have_loss_ = true;
  const double elapsed = seconds();
  const double rate = (done - first_) / (elapsed > 1e-9 ? elapsed : 1e-9);
  const double left = rate > 0 ? (total_ - done) / rate : 0;
  if (tty_) {
    auto now = std::chrono::steady_clock::now();
    if (done != total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.2) return;
    last_draw_ = now;
    const int kWidth = 24;
    int filled = static_cast<int>(kWidth * done / (total_ > 0 ? total_ : 1));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r[%s] step %ld/%ld  loss %.4f  %.2f steps/s  %s left   ", bar.c_str(),
                static_cast<long>(done), static_cast<long>(total_), smoothed_, rate,
                format_duration(left).c_str());
    std::fflush(stdout);
    bar_drawn_ = true;
  } else if (done % log_every_ == 0 || done == total_) {
    std::printf("step %ld/%ld  loss %.4f  %.2f steps/s  %s left\n", static_cast<long>(done),
                static_cast<long>(total_), smoothed_, rate, format_duration(left).c_str());
    std::fflush(stdout);
  }
}

void Progress::message(const std::string& line) {
  if (bar_drawn_) std::printf("\n");
  bar_drawn_ = false;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Progress::finish() {
  if (bar_drawn_) std::printf("\n");
  bar_drawn_ = false;
  std::fflush(stdout);
}

}  // namespace mindiff::diffusion
