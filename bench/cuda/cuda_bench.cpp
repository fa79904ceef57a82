// mindiff_cuda_bench: timings of the CUDA kernels, one JSON line per case, for a GPU.
//
//   matmul   every version of the ladder (cuda/matmul.cu) at square sizes: ms and GFLOP/s
//            (2 M N K floating-point operations per product)
//   elementwise add, dense and through a transposed view: GB/s (two reads and a write)
//   sum over rows, softmax along rows, group_norm: GB/s (bytes read + written once)
//   conv2d forward and backward at U-Net shapes: GFLOP/s (2 B O HO WO C KH KW per pass); the
//            forward also by each algorithm (implicit GEMM, im2col + matmul)
//
// Each case runs once to warm up, then at least kMinRuns times and until kMinSeconds have
// passed, each run bracketed by cuda::synchronize() (kernels are asynchronous); the median run
// is reported ("ms"), and the fastest ("min_ms").
//
// Usage: mindiff_cuda_bench [--quick]   (--quick: small sizes, for a smoke run)
//        mindiff_cuda_bench --unet [--precision fp32|tf32] [--config small] [--batch 64]
//          the whole U-Net's no-grad forward and training step on the device, defined as the
//          PyTorch twin's benchmark defines them (bench/bench_unet.cpp); what
//          bench/compare_pytorch_cuda.sh alternates with the twin
// Built by `make cuda` (real GPU). Linked with the emulator instead ($(BUILD)/mindiff_cuda_bench_emu)
// it runs the same kernels on the CPU: those numbers say nothing about a GPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_cases.h"
#include "cuda/conv2d.h"
#include "cuda/matmul.h"
#include "tensor/precision.h"
#include "tensor/device_backend.h"
#include "tensor/ops.h"

namespace mindiff {
namespace {

constexpr int kMinRuns = 5;
constexpr int kMaxRuns = 100;
constexpr double kMinSeconds = 0.5;
constexpr Device kCuda = Device::CUDA;

double now_ms() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

struct Timing {
  double median_ms, min_ms;
};

template <class Run>
Timing time_runs(Run run) {
  run();  // warm-up: first-launch costs, allocator cache
  cuda::synchronize();
  std::vector<double> times;
  const double start = now_ms();
  while (static_cast<int>(times.size()) < kMinRuns ||
         (now_ms() - start < kMinSeconds * 1000.0 && static_cast<int>(times.size()) < kMaxRuns)) {
    const double t0 = now_ms();
    run();
    cuda::synchronize();
    times.push_back(now_ms() - t0);
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

void report(const std::string& name, const std::string& shape, const Timing& t, double flops,
            double bytes) {
  std::printf("{\"case\": \"%s\", \"shape\": \"%s\", \"ms\": %.4f, \"min_ms\": %.4f", name.c_str(),
              shape.c_str(), t.median_ms, t.min_ms);
  if (flops > 0) std::printf(", \"gflops\": %.1f", flops / (t.median_ms * 1e6));
  if (bytes > 0) std::printf(", \"gbps\": %.1f", bytes / (t.median_ms * 1e6));
  std::printf("}\n");
  std::fflush(stdout);
}

void bench_matmul(int64_t n) {
  const Tensor a = randn({n, n}, 1).to(kCuda), b = randn({n, n}, 2).to(kCuda);
  const char* names[] = {"matmul_v1_naive", "matmul_v2_tiled", "matmul_v3_register_blocked",
                         "matmul_v4_pipelined", "matmul_v5_tf32_tensor_cores"};
  const MatmulKernel kernels[] = {MatmulKernel::Naive, MatmulKernel::Tiled,
                                  MatmulKernel::RegisterBlocked, MatmulKernel::Pipelined,
                                  MatmulKernel::TensorCoreTF32};
  for (int v = 0; v < 5; ++v) {
    const Timing t = time_runs([&] { matmul_cuda(a, b, {n, n}, kernels[v]); });
    report(names[v], std::to_string(n) + "^3", t, 2.0 * n * n * n, 0);
  }
}

void bench_memory_bound(int64_t rows, int64_t cols) {
  NoGradGuard no_grad;
  const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
  const double bytes = 4.0 * rows * cols;
  const Tensor x = randn({rows, cols}, 3).to(kCuda), y = randn({rows, cols}, 4).to(kCuda);
  const Tensor yt = randn({cols, rows}, 5).to(kCuda).transpose(0, 1);
  report("add_dense", shape, time_runs([&] { add(x, y); }), 0, 3 * bytes);
  report("add_strided", shape, time_runs([&] { add(x, yt); }), 0, 3 * bytes);
  report("sum_rows", shape, time_runs([&] { sum(x, {1}); }), 0, bytes);
  report("softmax_rows", shape, time_runs([&] { softmax(x, -1); }), 0, 2 * bytes);
  const Tensor img = x.reshape({rows / 64, 64, cols / 32, 32});
  report("group_norm_g8", img.shape().str(), time_runs([&] { group_norm(img, 8, Tensor(), Tensor()); }),
         0, 2 * bytes);
}

void bench_conv(int64_t B, int64_t C, int64_t HW, int64_t O) {
  const Tensor x = randn({B, C, HW, HW}, 6).to(kCuda), w = (randn({O, C, 3, 3}, 7) * 0.1f).to(kCuda);
  const Tensor bias = zeros({O}, kCuda);
  const double flops = 2.0 * B * O * HW * HW * C * 9;
  const std::string shape = Shape({B, C, HW, HW}).str() + " -> " + std::to_string(O);
  {
    NoGradGuard no_grad;
    report("conv2d_forward", shape, time_runs([&] { conv2d(x, w, bias, 1, 1); }), flops, 0);
    // The two algorithms of cuda/conv2d.cu side by side (the op above runs the default).
    const Conv2dGeometry g{B, C, HW, HW, O, 3, 3, HW, HW, 1, 1};
    report("conv2d_forward_implicit_gemm", shape,
           time_runs([&] { conv2d_forward_cuda(x, w, bias, g, Conv2dAlgorithm::ImplicitGemm); }), flops, 0);
    report("conv2d_forward_im2col", shape,
           time_runs([&] { conv2d_forward_cuda(x, w, bias, g, Conv2dAlgorithm::Im2col); }), flops, 0);
  }
  const Tensor xg = x.detach(), wg = w.detach();
  xg.requires_grad_();
  wg.requires_grad_();
  const Tensor dout = randn({B, O, HW, HW}, 8).to(kCuda);
  // Forward and backward (dx and dweight: about three forward passes of work).
  report("conv2d_forward_backward", shape, time_runs([&] {
           xg.zero_grad();
           wg.zero_grad();
           conv2d(xg, wg, Tensor(), 1, 1).backward(dout);
         }),
         3 * flops, 0);
}

// --unet and its options; anything unknown is an error naming it.
struct UnetCase {
  bool on = false;
  Precision precision = Precision::FP32;
  std::string config = "small";
  int64_t batch = 64;
};

UnetCase parse_unet_case(int argc, char** argv) {
  UnetCase u;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      MD_CHECK(i + 1 < argc, "mindiff_cuda_bench: ", arg, " needs a value");
      return argv[++i];
    };
    if (arg == "--unet") {
      u.on = true;
    } else if (arg == "--precision") {
      u.precision = parse_precision("precision", value());
    } else if (arg == "--config") {
      u.config = value();
    } else if (arg == "--batch") {
      const std::string v = value();
      u.batch = std::atoll(v.c_str());
      MD_CHECK(u.batch > 0, "mindiff_cuda_bench: --batch ", v, ": expected a positive count");
    } else if (arg != "--quick") {
      throw Error("mindiff_cuda_bench: unknown argument " + arg);
    }
  }
  return u;
}

}  // namespace
}  // namespace mindiff

int main(int argc, char** argv) {
  using namespace mindiff;
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    const UnetCase unet = parse_unet_case(argc, argv);
    cuda::require_available("mindiff_cuda_bench");
    std::printf("{\"device\": \"%s\"}\n", cuda::device_description().c_str());
    if (cuda::emulated())
      std::printf("{\"note\": \"emulator: these are CPU timings of the emulated kernels, not GPU timings\"}\n");
    if (unet.on) {
      set_cuda_precision(unet.precision);
      std::printf("{\"precision\": \"%s\"}\n", precision_name(unet.precision));
      bench::bench_unet_forward(unet.config, unet.batch, 0, Device::CUDA);
      bench::bench_unet_train_step(unet.config, unet.batch, 0, Device::CUDA);
      return 0;
    }
    for (int64_t n : quick ? std::vector<int64_t>{64} : std::vector<int64_t>{256, 512, 1024, 2048, 4096})
      bench_matmul(n);
    if (quick) {
      bench_memory_bound(256, 256);
      bench_conv(1, 8, 8, 8);
    } else {
      bench_memory_bound(4096, 4096);
      bench_conv(32, 64, 32, 64);
      bench_conv(32, 128, 16, 128);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
