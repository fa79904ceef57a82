#include "tensor/precision.h"

#include <atomic>

#include "tensor/error.h"

namespace mindiff {

namespace {
std::atomic<Precision> g_cuda_precision{Precision::FP32};
}  // namespace

void set_cuda_precision(Precision p) { g_cuda_precision.store(p); }
Precision cuda_precision() { return g_cuda_precision.load(); }

const char* precision_name(Precision p) { return p == Precision::TF32 ? "tf32" : "fp32"; }

Precision parse_precision(const std::string& flag, const std::string& value) {
  if (value == "fp32") return Precision::FP32;
  if (value == "tf32") return Precision::TF32;
  throw Error("--" + flag + " " + value + ": unknown precision (fp32 or tf32)");
}

}  // namespace mindiff
