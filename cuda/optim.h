// CUDA launchers of the optimizer and EMA updates of tensor/ops/optim.h (the per-element rules of
// tensor/ops/optim_math.h, shared with its CPU loops) and of the gradient-norm clipping's two
// steps. All tensors contiguous and on the device.
#pragma once
#include <vector>

#include "tensor/ops/multi_tensor_geometry.h"
#include "tensor/ops/optim_math.h"
#include "tensor/tensor.h"

namespace mindiff {

// p, g, and the momentum buffer (undefined when momentum is 0).
void sgd_update_cuda(const Tensor& p, const Tensor& g, const Tensor& momentum, const SgdConsts& c);
void adam_update_cuda(const Tensor& p, const Tensor& g, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamConsts& c);
void ema_update_cuda(const Tensor& shadow, const Tensor& p, float one_minus_decay);


// The multi-tensor updates (tensor/ops/multi_tensor_geometry.h): every tensor of the lists (all
// of one length, element i of each list going together) with the rule above, in one launch per
// kMultiTensorGradsPerLaunch tensors (the EMA's: one launch). `table` is the cached device table
// of the parameters and their state, uploaded only when they differ from table.slots; the
// gradients go by value in the launch. Bit for bit the per-tensor launchers' numbers.
constexpr int kMultiTensorGradsPerLaunch = 384;  // 3 KiB of pointers: under the 4 KiB of arguments
void adam_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& p,
                          const std::vector<Tensor>& g, const std::vector<Tensor>& exp_avg,
                          const std::vector<Tensor>& exp_avg_sq, const AdamConsts& c);
// momentum: one buffer per parameter, or empty when momentum is 0.
void sgd_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& p,
                         const std::vector<Tensor>& g, const std::vector<Tensor>& momentum,
                         const SgdConsts& c);
void ema_update_all_cuda(MultiTensorTable& table, const std::vector<Tensor>& shadow,
                         const std::vector<Tensor>& p, float one_minus_decay);

// clip_global_norm_ (tensor/ops/optim.h) on the device, whatever the list's length in
// 2 ceil(count / kClipTensorsPerLaunch) + 1 launches and nothing read back: the squares summed
// per chunk of kMultiTensorChunk elements in double (the tensors by value in the launch, as the
// gradients above), the chunks' sums added by one block into the norm and the factor, then every
// tensor scaled by the factor, which stays on the device. Returns the norm, a scalar tensor.
constexpr int kClipTensorsPerLaunch = 96;  // 96 slots of 40 bytes: under the 4 KiB of arguments
Tensor clip_global_norm_cuda_(const std::vector<Tensor>& xs, float max_norm);

}  // namespace mindiff
