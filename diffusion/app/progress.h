// Training progress: a one-line bar redrawn in place on a terminal, plain log lines otherwise
// (files, pipes, CI), each with step, loss, steps per second and the time left.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace mindiff::diffusion {

class Progress {
 public:
  // Steps run from `first` (a resumed run) to `total`; plain lines every `log_every` steps.
  Progress(int64_t first, int64_t total, int64_t log_every);
  void update(int64_t step_done, double loss);  // after each step; step_done counts from 1
  void message(const std::string& line);       // a line that must not be drawn over
  void finish();
  double seconds() const;                      // since construction

 private:
  bool tty_;
  int64_t first_, total_, log_every_;
  double smoothed_ = 0;
  bool have_loss_ = false, bar_drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1h02m", "4m35s", "12s"

}  // namespace mindiff::diffusion
