// Checkpoints: everything a training run needs to stop and resume bit-exactly, in one binary file
// of our own format (docs/checkpoint.md): the model's weights and the configuration text that
// rebuilds it, the EMA weights, the optimizer state, the step, the random generator and the data
// cursor, and free key-value extras.
//
// Saving is atomic (data/file_io.h write_file_atomic): the file is written to a temporary next to
// <path>, flushed to disk and renamed over <path>, so a crash leaves either the previous
// checkpoint or the new one, never half of one. Loading
// checks everything (magic, version, length, CRC-32, every count and size) and names the file and
// the problem in a mindiff::Error.
//
// The record types here (NamedTensor, StateDict) are also how the optimizers and the EMA export
// and import their state (nn/optim.h, nn/ema.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff::nn {

struct NamedTensor {
  std::string name;
  Tensor tensor;  // any shape of rank <= 4; float32
};

struct NamedScalar {
  std::string name;
  double value;  // integers (step counts) are exact up to 2^53
};

// The state of a stateful training component (optimizer, EMA): which kind it is ("adam",
// "adamw", "sgd", "ema"), its tensors and its scalars, all by name.
struct StateDict {
  std::string kind;
  std::vector<NamedTensor> tensors;
  std::vector<NamedScalar> scalars;

  bool empty() const { return kind.empty() && tensors.empty() && scalars.empty(); }
  // Lookups that throw an Error naming `kind` and the missing name.
  const Tensor& tensor(const std::string& name) const;
  double scalar(const std::string& name) const;
};

// Where the data loader stands, so a resumed run sees the same batches in the same order.
struct DataCursor {
  uint64_t epoch = 0;
  uint64_t position = 0;  // examples (or batches; the loader decides) already consumed
  uint64_t shuffle_seed = 0;
};

struct Checkpoint {
  std::string model_config;        // opaque text from the model: enough to rebuild it
  std::vector<NamedTensor> model;  // parameters by name (Module::named_parameters order)
  StateDict ema;                   // EMA weights by parameter name, plus its scalars
  StateDict optimizer;             // optimizer kind, moments, step counts, hyperparameters
  uint64_t step = 0;               // optimizer steps taken
  Generator generator{0, 0};       // seed and offset of the training noise generator
  DataCursor data;
  std::map<std::string, std::string> extras;  // anything else (training flags, notes)
};

// Writes `ckpt` to `path` atomically (see above). Throws an Error naming the path and the reason
// (strerror) when anything fails; the temporary file is then removed and an existing checkpoint at
// `path` is untouched. Tensors may be on any device and non-contiguous.
void save_checkpoint(const Checkpoint& ckpt, const std::string& path);

// Reads and validates a checkpoint written by save_checkpoint. Tensors come back as contiguous
// CPU tensors that do not require grad.
Checkpoint load_checkpoint(const std::string& path);
// The same from a checkpoint file's bytes in memory (e.g. received from another process); `name`
// stands for the path in messages.
Checkpoint load_checkpoint_bytes(const std::vector<uint8_t>& bytes, const std::string& name);

// Copies `saved` tensors into a model's parameters by name (under no-grad; the parameters keep
// their identity). Every parameter must have a saved tensor of the same shape and every saved
// tensor a parameter; otherwise an Error names `path`, the tensor and both shapes, and no
// parameter has been changed. `path` is only used in messages.
void load_into(const std::vector<std::pair<std::string, Tensor>>& named_params,
               const std::vector<NamedTensor>& saved, const std::string& path);

// The current format version; files with a larger version are refused.
constexpr uint32_t kCheckpointVersion = 1;

}  // namespace mindiff::nn
