// mindiff_cuda_traffic: what one training step of the U-Net asks of a GPU, counted on the CPU by
// the emulator (cuda/emu/traffic.h): for each kernel, its launches and, for each shared array,
// the warp-wide loads and stores, the wavefronts they take and the least they could take (the
// difference is bank conflicts). One JSON line per (kernel, array access), and one per kernel
// without shared memory. No timing: counts, the same on every machine.
//
// Usage: mindiff_cuda_traffic [--config small] [--batch 2] [--precision fp32|tf32]
// The step is bench/bench_unet.cpp's (the PyTorch twin's), run once to warm up, then counted.
// Launches and bank patterns do not depend on the batch; the counts of requests grow with it.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_cases.h"
#include "cuda/emu/traffic.h"
#include "tensor/device_backend.h"
#include "tensor/precision.h"

namespace mindiff {
namespace {

struct Options {
  std::string config = "small";
  int64_t batch = 2;
  Precision precision = Precision::FP32;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    MD_CHECK(i + 1 < argc, "mindiff_cuda_traffic: ", arg, " needs a value");
    const std::string value = argv[++i];
    if (arg == "--config") {
      o.config = value;
    } else if (arg == "--batch") {
      char* end = nullptr;
      o.batch = std::strtoll(value.c_str(), &end, 10);
      MD_CHECK(*end == '\0' && o.batch > 0, "mindiff_cuda_traffic: --batch ", value,
               " is not a positive integer");
    } else if (arg == "--precision") {
      o.precision = parse_precision("--precision", value);
    } else {
      MD_CHECK(false, "mindiff_cuda_traffic: unknown option ", arg,
               " (options: --config, --batch, --precision)");
    }
  }
  return o;
}

int run(const Options& o) {
  MD_CHECK(cuda::emulated(), "mindiff_cuda_traffic counts on the emulator; this build runs a GPU");
  set_cuda_precision(o.precision);
  bench::UnetBench unet(o.config, o.batch, Device::CUDA);
  unet.train_step();  // warm-up: the optimizer's first step takes another path
  cuda::emu::start_traffic_count();
  unet.train_step();
  const cuda::emu::TrafficReport report = cuda::emu::stop_traffic_count();
  long long launches = 0;
  for (const auto& [kernel, k] : report) {
    launches += k.launches;
    auto line = [&] {
      bench::JsonLine j("unet_step_traffic");
      j.add("config", o.config).add("batch", static_cast<long long>(o.batch))
          .add("precision", precision_name(o.precision)).add("kernel", kernel)
          .add("launches", static_cast<long long>(k.launches));
      return j;
    };
    if (k.shared.empty()) line().print();
    for (const auto& [access, t] : k.shared)
      line().add("shared", access).add("requests", static_cast<long long>(t.requests))
          .add("wavefronts", static_cast<long long>(t.wavefronts))
          .add("ideal_wavefronts", static_cast<long long>(t.ideal))
          .add("conflict_ratio", static_cast<double>(t.wavefronts) / (t.ideal > 0 ? t.ideal : 1), 2)
          .print();
  }
  bench::JsonLine("unet_step_launches").add("config", o.config)
      .add("batch", static_cast<long long>(o.batch)).add("precision", precision_name(o.precision))
      .add("launches", launches).print();
  return 0;
}

}  // namespace
}  // namespace mindiff

int main(int argc, char** argv) {
  try {
    return mindiff::run(mindiff::parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
