// Data-parallel training as the trainer sees it: what each of the N processes of
// `mpirun -np N ./train ...` does differently from a single process (N = 1 changes nothing).
//
//   data       --batch B is the global batch; rank r takes rows [r B/N, (r+1) B/N) of every
//              global batch (data/loader.h), so no two ranks see the same example in an epoch
//   noise      drawn for the global batch, rank r keeping its rows (objectives.h, BatchShard):
//              together the ranks use the numbers one process with batch B would
//   gradients  averaged over the ranks after backward, in buckets (nn/grad_sync.h), so every
//              rank takes the same optimizer step and all hold the same parameters
//   agreement  one all-reduce of one value per step: whether any rank was asked to stop
//              (SIGINT, SIGTERM, SIGUSR1); and at each read of the losses (step_losses.h), one
//              of all the steps read: their means over the ranks (logged, and checked for NaN by
//              all ranks alike)
//   files      rank 0 alone makes and writes the run folder and prints; the others' stdout is
//              discarded
//   check      at each checkpoint the ranks compare checksums of their parameters
//   resume     rank 0 reads the checkpoint and broadcasts its bytes; every rank loads them
//   failure    an error on one rank ends the whole job (MPI_Abort) with that rank's message, and
//              mpirun ends the job when a process dies, so no rank waits forever
//
// The result equals a single-process run with batch B up to the order of floating-point sums
// (per-rank gradient sums, then their mean, instead of one sum over B). Dropout masks (configs
// with dropout > 0) are each rank's own draws, so there the equality is in distribution only.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "diffusion/objectives.h"
#include "diffusion/app/run_folder.h"
#include "diffusion/app/step_losses.h"
#include "nn/communicator.h"
#include "nn/checkpoint.h"

namespace mindiff::diffusion {

class DataParallel {
 public:
  // Checks that the global batch splits evenly over the ranks. With `threads` = 0 (all cores)
  // and several ranks on one machine, gives each rank its share of the cores instead.
  DataParallel(dist::Communicator& comm, int64_t global_batch, int threads);

  dist::Communicator& comm() const { return comm_; }
  bool root() const { return comm_.is_root(); }
  int rank() const { return comm_.rank(); }
  int world_size() const { return comm_.world_size(); }
  int64_t local_batch() const { return local_batch_; }
  // This rank's rows of the global batch, for the training draws.
  BatchShard shard() const { return BatchShard{rank() * local_batch_, global_batch_}; }
  int threads() const { return threads_; }  // for omp_set_num_threads; 0 leaves the default

  // The generator the network's dropout draws from in step `step`: the step's own `gen` in one
  // process (as before), a stream of this rank's own otherwise.
  Generator* dropout_generator(Generator& gen, Generator& scratch) const;

  // Whether some rank was asked to stop. Every rank calls it every step.
  bool agree_stop(bool stop_requested);
  // Each step's loss (this rank's mean over its examples) replaced by the mean over the ranks, in
  // one all-reduce; a NaN or infinite loss on any rank reaches every rank. Every rank calls it
  // with the same steps.
  void average_losses(std::vector<StepLoss>& losses);

  // CRC-32 of each rank's parameters (the bytes of their values, in order), as "crc_0,crc_1,..."
  // in hex, on every rank; rank 0 records it in each checkpoint (extras "param_crc32"). Throws
  // when two ranks differ: data-parallel replicas must stay bit-identical. Every rank calls it.
  std::string parameter_checksums(const std::vector<Tensor>& params, int64_t step);

  // The run folder's checkpoint as rank 0 reads it, on every rank; nullopt when there is none.
  std::optional<nn::Checkpoint> read_checkpoint(const RunFolder& run);

 private:
  dist::Communicator& comm_;
  int64_t global_batch_, local_batch_;
  int threads_;
};

// Runs `body` (the whole training run of this rank). With several ranks, stdout is discarded on
// all but rank 0, and an exception is printed with this rank's number and ends the whole job with
// status 2, instead of leaving the other ranks waiting in a collective; in one process it
// propagates as usual.
int run_on_every_rank(dist::Communicator& comm, const std::function<int()>& body);

}  // namespace mindiff::diffusion
