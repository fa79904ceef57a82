// The training loop's losses, read from the device a batch of steps at a time.
//
// Reading a loss on a GPU (Tensor::item) is a copy to the host, and a copy to the host waits for
// every kernel queued before it: read every step, the host would sit idle through each backward
// pass and the GPU would sit idle while the host loads the next batch and queues its kernels.
// So the loop keeps each step's loss where it was made (a scalar on the device; nothing is
// copied) and reads the ones it has kept in one copy every few steps, and always before anything
// that must see good weights: a checkpoint, a preview. A read comes before the step's update.
//
// On the CPU reading costs nothing, and the loop reads every step: a non-finite loss is then
// caught before its own update, as it always was. On the device a non-finite loss is caught at
// the next read, up to `every` - 1 steps later. Those steps run on the broken weights but nothing
// of them is saved, since every checkpoint is preceded by a read; the report names the step
// whose loss first went bad.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff::diffusion {

// One step's line of the loss log.
struct StepLoss {
  int64_t step;    // counted from 1
  double loss;     // this process's loss (the mean over its examples)
  double lr;       // the learning rate the step's update uses
  double seconds;  // run time when the host had queued the step
};

class StepLosses {
 public:
  // Read every `every` steps (>= 1).
  explicit StepLosses(int64_t every);

  // Keeps `loss` (a scalar, on any device) without reading it.
  void add(int64_t step, const Tensor& loss, double lr, double seconds);
  // Whether step `step` is one of the regular reads.
  bool due(int64_t step) const { return step % every_ == 0; }
  // The kept losses in step order, read with one copy from their device, and forgotten. (On the
  // device they are first gathered into one buffer: a small copy on the device each, no wait.)
  std::vector<StepLoss> read();
  size_t pending() const { return kept_.size(); }

 private:
  int64_t every_;
  std::vector<StepLoss> kept_;  // .loss not yet filled
  std::vector<Tensor> values_;  // [1] each, detached
};

}  // namespace mindiff::diffusion
