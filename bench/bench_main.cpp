// mindiff_bench: timings of the kernels that dominate training, one JSON line per case.
//
//   sgemm at 256, 512, 1024 (and the reference triple loop at 256 for scale);
//   conv2d forward and backward (dx, dweight, dbias) at U-Net-like shapes.
//
// Each case runs once to warm up (caches, page faults, thread pool), then at least kMinRuns
// times and until kMinSeconds have passed; the median run is reported ("ms", "gflops"), and the
// fastest ("min_ms").
//
// Usage: mindiff_bench [--threads N]   (default: omp_get_max_threads())
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/ops/gemm.h"

namespace mindiff {
namespace {

constexpr int kMinRuns = 5;
constexpr int kMaxRuns = 50;
constexpr double kMinSeconds = 0.5;

double now_ms() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

struct Timing {
  double median_ms, min_ms;
};

// Median (and fastest) wall time in ms of `run`; `setup` (untimed) runs before each timed call.
// The minimum shows what the code can do when no other process takes a core from a thread.
template <class Setup, class Run>
Timing time_runs(Setup setup, Run run) {
  setup();
  run();  // warm-up
  std::vector<double> times;
  const double start = now_ms();
  while (static_cast<int>(times.size()) < kMinRuns ||
         (now_ms() - start < kMinSeconds * 1000.0 && static_cast<int>(times.size()) < kMaxRuns)) {
    setup();
    const double t0 = now_ms();
    run();
    times.push_back(now_ms() - t0);
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

void bench_sgemm(int64_t size, bool reference, int threads) {
  const int64_t n = size;
  std::vector<float> a = randn({n * n}, 1).to_vector(), b = randn({n * n}, 2).to_vector();
  std::vector<float> c(n * n);
  auto run = [&] {
    if (reference)
      sgemm_reference(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    else
      sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  const Timing t = time_runs([] {}, run);
  std::printf(
      "{\"case\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"threads\":%d,\"ms\":%.3f,"
      "\"gflops\":%.2f,\"min_ms\":%.3f}\n",
      reference ? "sgemm_reference" : "sgemm", static_cast<long long>(n),
      static_cast<long long>(n), static_cast<long long>(n), reference ? 1 : threads, t.median_ms,
      2.0 * n * n * n / (t.median_ms * 1e6), t.min_ms);
  std::fflush(stdout);
}

void bench_conv2d(int64_t batch, int64_t channels, int64_t size, int threads) {
  const int64_t k = 3, pad = 1;
  Tensor x = randn({batch, channels, size, size}, 3);
  Tensor w = randn({channels, channels, k, k}, 4) * 0.05f;
  Tensor bias = zeros({channels});
  // Multiply-adds of the forward: every output takes C*K*K of them.
  const double fwd_flops = 2.0 * batch * channels * size * size * channels * k * k;
  auto print = [&](const char* name, Timing t, double flops) {
    std::printf(
        "{\"case\":\"%s\",\"b\":%lld,\"c\":%lld,\"o\":%lld,\"h\":%lld,\"w\":%lld,\"kernel\":%lld,"
        "\"stride\":1,\"padding\":%lld,\"threads\":%d,\"ms\":%.3f,\"gflops\":%.2f,"
        "\"min_ms\":%.3f}\n",
        name, static_cast<long long>(batch), static_cast<long long>(channels),
        static_cast<long long>(channels), static_cast<long long>(size),
        static_cast<long long>(size), static_cast<long long>(k), static_cast<long long>(pad),
        threads, t.median_ms, flops / (t.median_ms * 1e6), t.min_ms);
    std::fflush(stdout);
  };
  {
    NoGradGuard ng;
    print("conv2d_forward", time_runs([] {}, [&] { conv2d(x, w, bias, 1, pad); }), fwd_flops);
  }
  // Backward: dx (W^T @ dout and col2im) and dweight (dout @ col^T) are each a forward's worth
  // of multiply-adds; dbias is negligible. The forward that builds the graph is not timed.
  x.requires_grad_();
  w.requires_grad_();
  bias.requires_grad_();
  Tensor out, dout = randn({batch, channels, size, size}, 5);
  auto setup = [&] {
    x.zero_grad();
    w.zero_grad();
    bias.zero_grad();
    out = conv2d(x, w, bias, 1, pad);
  };
  print("conv2d_backward", time_runs(setup, [&] { out.backward(dout); }), 2.0 * fwd_flops);
}

// The machine's 1-minute load average (Linux), printed first: timings taken while other
// processes compete for the cores are not comparable with quiet ones.
double load_average() {
  double load = -1.0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
    std::fclose(f);
  }
  return load;
}

}  // namespace
}  // namespace mindiff

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      int t = std::atoi(argv[++i]);
      if (t < 1) {
        std::fprintf(stderr, "mindiff_bench: --threads needs a positive integer, got '%s'\n",
                     argv[i]);
        return 1;
      }
      omp_set_num_threads(t);
    } else {
      std::fprintf(stderr, "mindiff_bench: unknown argument '%s' (usage: mindiff_bench [--threads N])\n",
                   argv[i]);
      return 1;
    }
  }
  const int threads = omp_get_max_threads();
  std::printf("{\"case\":\"machine\",\"threads\":%d,\"cores\":%d,\"load_average_1min\":%.2f}\n",
              threads, omp_get_num_procs(), mindiff::load_average());
  try {
    mindiff::bench_sgemm(256, true, threads);
    for (int64_t n : {256, 512, 1024}) mindiff::bench_sgemm(n, false, threads);
    mindiff::bench_conv2d(64, 32, 28, threads);
    mindiff::bench_conv2d(64, 64, 14, threads);
  } catch (const mindiff::Error& e) {
    std::fprintf(stderr, "mindiff_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
