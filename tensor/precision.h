// The arithmetic the CUDA backend uses for matrix products (matmul, and convolutions, which are
// matrix products): FP32, or TF32 on tensor cores (inputs rounded to 10 mantissa bits, products
// summed in FP32; cuda/mma.h). Everything else (norms, softmax, reductions, elementwise ops, the
// optimizer) is FP32 either way, and the CPU always computes in FP32.
//
// One process-wide setting, like the "allow TF32" switches of other frameworks: train and sample
// set it from --precision before they build anything.
#pragma once
#include <string>

namespace mindiff {

enum class Precision { FP32, TF32 };

void set_cuda_precision(Precision p);
Precision cuda_precision();

const char* precision_name(Precision p);
// "fp32" or "tf32"; anything else is an Error naming the flag and the choices.
Precision parse_precision(const std::string& flag, const std::string& value);

}  // namespace mindiff
