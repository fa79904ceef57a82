// Shared pieces of the CPU benchmark (make bench): timing, memory, one JSON line per case.
//
// Timing: one untimed warm-up (caches, page faults, thread pool), then at least `min_runs`
// timed runs and until `min_seconds` have passed; the median is "ms" and the fastest "min_ms"
// (what the code does when no other process takes a core from a thread); "cpu_ms" is the
// median CPU time per run of all threads together.
//
// Memory: every case runs in its own child process (fork), so "peak_rss_mb" is that case's
// own high-water mark of resident memory: the program itself plus everything the case
// allocated, comparable with the peak RSS a PyTorch process reports for the same work.
#pragma once
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace mindiff::bench {

struct Timing {
  double median_ms = 0, min_ms = 0;
  double median_cpu_ms = 0;  // CPU time of the whole process per run (all threads), median
  int runs = 0;
};

inline double now_ms() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

// CPU time used by all threads of this process so far. On a machine shared with other jobs the
// wall time of a case grows with the load, its CPU time much less (a single-threaded case hardly
// at all): the "cpu_ms" field is the steadier figure there.
inline double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// `setup` runs (untimed) before every call of `run`.
template <class Setup, class Run>
Timing time_runs(Setup setup, Run run, int min_runs = 5, double min_seconds = 0.5,
                 int max_runs = 50) {
  setup();
  run();  // warm-up
  std::vector<double> times, cpu_times;
  const double start = now_ms();
  while (static_cast<int>(times.size()) < min_runs ||
         (now_ms() - start < min_seconds * 1000.0 && static_cast<int>(times.size()) < max_runs)) {
    setup();
    const double t0 = now_ms(), c0 = process_cpu_ms();
    run();
    times.push_back(now_ms() - t0);
    cpu_times.push_back(process_cpu_ms() - c0);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  return {times[times.size() / 2], times.front(), cpu_times[cpu_times.size() / 2],
          static_cast<int>(times.size())};
}

// This process's peak resident memory so far, in MiB (ru_maxrss is in KiB on Linux).
inline double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// A JSON object built field by field: {"case":"sgemm","m":1024,...}. Printed on one line.
class JsonLine {
 public:
  explicit JsonLine(const std::string& name) { text_ = "{\"case\":\"" + name + "\""; }
  JsonLine& add(const std::string& key, long long value) {
    text_ += ",\"" + key + "\":" + std::to_string(value);
    return *this;
  }
  JsonLine& add(const std::string& key, int value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(const std::string& key, double value, int decimals = 3) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    text_ += ",\"" + key + "\":" + buf;
    return *this;
  }
  JsonLine& add(const std::string& key, const std::string& value) {
    text_ += ",\"" + key + "\":\"" + value + "\"";
    return *this;
  }
  // The usual timing fields: ms, min_ms, runs and, when flops > 0, GFLOP/s of the median.
  JsonLine& timing(const Timing& t, double flops) {
    add("ms", t.median_ms).add("min_ms", t.min_ms).add("cpu_ms", t.median_cpu_ms).add("runs", t.runs);
    if (flops > 0) add("gflops", flops / (t.median_ms * 1e6), 2);
    return *this;
  }
  void print() {
    text_ += ",\"peak_rss_mb\":" + std::to_string(static_cast<long long>(peak_rss_mb())) + "}";
    std::printf("%s\n", text_.c_str());
    std::fflush(stdout);
  }

 private:
  std::string text_;
};

}  // namespace mindiff::bench
