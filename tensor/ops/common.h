// Helpers every op file uses: device checks and the OpInfo/record machinery.
#pragma once
#include <initializer_list>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace mindiff {

// All inputs must be on one device; names the op and both devices otherwise.
inline Device common_device(const char* op, std::initializer_list<Tensor> inputs) {
  const Tensor* first = nullptr;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    if (!first) {
      first = &t;
      continue;
    }
    MD_CHECK(t.device() == first->device(), op, ": inputs on different devices (",
             device_name(first->device()), " and ", device_name(t.device()), ")");
  }
  return first ? first->device() : Device::CPU;
}

// The CPU kernels are the only ones in this build; the CUDA backend dispatches here later.
inline void require_cpu(const char* op, std::initializer_list<Tensor> inputs) {
  Device d = common_device(op, inputs);
  MD_CHECK(d == Device::CPU, op, ": no kernel for device ", device_name(d), " in this build");
}

}  // namespace mindiff
