// mindiff_bench (`make bench`): the CPU cases that decide training and sampling speed, one JSON
// line per case.
//
//   SGEMM at 256..2048 and at the shapes the small U-Net's convolutions produce; conv2d forward,
//   backward-data and backward-weight at the U-Net's layer shapes; group_norm and attention
//   forward and backward; the whole `small` U-Net (batch 64) and `cifar` U-Net (batch 16):
//   no-grad forward and training step.
//
// Usage: mindiff_bench [--threads N] [--case SUBSTRING] [--list]
//   --threads N   OpenMP threads (default: all cores)
//   --case S      run only the cases whose name contains S (e.g. unet, conv2d, sgemm)
// MINDIFF_CONV=1, 2 or 3 in the environment runs every convolution on that rung of the CPU
// ladder (tensor/ops/conv2d.h; 3, the fastest, by default); the first line records which.
//
// Every case runs in a child process of its own, so its "peak_rss_mb" is its own peak.
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_cases.h"
#include "tensor/error.h"
#include "tensor/ops/conv2d.h"

namespace mindiff::bench {
namespace {

struct Case {
  std::string name;
  std::function<void(int threads)> run;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  cases.push_back({"fma_peak", [](int t) { bench_fma_peak(t); }});
  cases.push_back({"sgemm_reference_256", [](int) { bench_sgemm_reference(256); }});
  for (int64_t n : {256, 512, 1024, 2048})
    cases.push_back({"sgemm_" + std::to_string(n),
                     [n](int t) { bench_sgemm(n, n, n, false, false, "square", t); }});
  // The per-image products of the small U-Net's 3x3 convolutions (im2col): forward
  // out[O, HW] = W[O, 9C] col[9C, HW]; backward-data dcol[9C, HW] = W^T dout[O, HW];
  // backward-weight dW[O, 9C] = dout[O, HW] col^T.
  struct ConvShape {
    int64_t c, o, s;
  };
  for (ConvShape cs : {ConvShape{32, 32, 28}, ConvShape{64, 64, 14}, ConvShape{64, 64, 7}}) {
    const int64_t k = 9 * cs.c, hw = cs.s * cs.s;
    const std::string tag = std::to_string(cs.c) + "x" + std::to_string(cs.s);
    cases.push_back({"sgemm_conv_forward_" + tag, [=](int t) {
                       bench_sgemm(cs.o, hw, k, false, false, ("conv_forward_" + tag).c_str(), t);
                     }});
    cases.push_back({"sgemm_conv_backward_data_" + tag, [=](int t) {
                       bench_sgemm(k, hw, cs.o, true, false, ("conv_backward_data_" + tag).c_str(), t);
                     }});
    cases.push_back({"sgemm_conv_backward_weight_" + tag, [=](int t) {
                       bench_sgemm(cs.o, k, hw, false, true, ("conv_backward_weight_" + tag).c_str(), t);
                     }});
  }
  // conv2d at the small U-Net's shapes (batch 64), one up-path input (concat of 64 + 32
  // channels), and the cifar U-Net's widest level (batch 16).
  struct ConvCase {
    int64_t b, c, o, s;
  };
  for (ConvCase cc : {ConvCase{64, 1, 32, 28}, ConvCase{64, 32, 32, 28}, ConvCase{64, 64, 64, 14},
                      ConvCase{64, 64, 64, 7}, ConvCase{64, 96, 32, 28}, ConvCase{16, 128, 128, 16}})
    cases.push_back({"conv2d_b" + std::to_string(cc.b) + "_" + std::to_string(cc.c) + "to" +
                         std::to_string(cc.o) + "_" + std::to_string(cc.s),
                     [=](int t) { bench_conv2d(cc.b, cc.c, cc.o, cc.s, t); }});
  cases.push_back({"group_norm_64x32x28", [](int t) { bench_group_norm(64, 32, 28, t); }});
  cases.push_back({"group_norm_64x64x14", [](int t) { bench_group_norm(64, 64, 14, t); }});
  cases.push_back({"attention_64x64x7", [](int t) { bench_attention(64, 64, 7, t); }});
  cases.push_back({"attention_16x128x16", [](int t) { bench_attention(16, 128, 16, t); }});
  cases.push_back({"unet_forward_small_b64", [](int t) { bench_unet_forward("small", 64, t); }});
  cases.push_back({"unet_train_step_small_b64", [](int t) { bench_unet_train_step("small", 64, t); }});
  cases.push_back({"unet_forward_cifar_b16", [](int t) { bench_unet_forward("cifar", 16, t); }});
  cases.push_back({"unet_train_step_cifar_b16", [](int t) { bench_unet_train_step("cifar", 16, t); }});
  return cases;
}

// Runs one case in a child process; returns false if it failed.
bool run_isolated(const Case& c, int threads) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("mindiff_bench: fork");
    return false;
  }
  if (pid == 0) {
    int status = 0;
    try {
      omp_set_num_threads(threads);
      c.run(threads);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mindiff_bench: case %s: %s\n", c.name.c_str(), e.what());
      status = 1;
    }
    std::fflush(stdout);
    _exit(status);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The machine's 1-minute load average (Linux): timings taken while other processes compete
// for the cores are not comparable with quiet ones.
double load_average() {
  double load = -1.0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
    std::fclose(f);
  }
  return load;
}

}  // namespace
}  // namespace mindiff::bench

int main(int argc, char** argv) {
  using namespace mindiff::bench;
  // Not omp_get_max_threads(): the parent must not touch OpenMP before forking its cases.
  int threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (const char* env = std::getenv("OMP_NUM_THREADS")) threads = std::max(1, std::atoi(env));
  std::string filter;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      char* end = nullptr;
      const long t = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || t < 1 || t > 1024) {
        std::fprintf(stderr, "mindiff_bench: --threads needs a positive integer, got '%s'\n",
                     argv[i]);
        return 1;
      }
      threads = static_cast<int>(t);
    } else if (arg == "--case" && i + 1 < argc) {
      filter = argv[++i];
    } else if (arg == "--list") {
      list = true;
    } else {
      std::fprintf(stderr,
                   "mindiff_bench: unknown argument '%s' (usage: mindiff_bench [--threads N] "
                   "[--case SUBSTRING] [--list])\n",
                   argv[i]);
      return 1;
    }
  }
  const std::vector<Case> cases = all_cases();
  std::vector<const Case*> chosen;
  for (const Case& c : cases)
    if (c.name.find(filter) != std::string::npos) chosen.push_back(&c);
  if (chosen.empty()) {
    std::fprintf(stderr, "mindiff_bench: no case matches '%s' (--list shows them)\n",
                 filter.c_str());
    return 1;
  }
  if (list) {
    for (const Case* c : chosen) std::printf("%s\n", c->name.c_str());
    return 0;
  }
  int conv_rung = 0;
  try {
    conv_rung = mindiff::conv2d_cpu_rung();
  } catch (const mindiff::Error& e) {
    std::fprintf(stderr, "mindiff_bench: %s\n", e.what());
    return 1;
  }
  std::printf("{\"case\":\"machine\",\"threads\":%d,\"cores\":%ld,\"load_average_1min\":%.2f,"
              "\"conv_rung\":%d}\n",
              threads, sysconf(_SC_NPROCESSORS_ONLN), load_average(), conv_rung);
  int failed = 0;
  for (const Case* c : chosen) failed += run_isolated(*c, threads) ? 0 : 1;
  return failed ? 1 : 0;
}
