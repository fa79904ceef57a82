// The NCCL communicator: all-reduce and broadcast of CUDA device memory between the GPUs of a
// data-parallel job, one GPU per process. NCCL chooses the fastest path between them (NVLink,
// PCIe, InfiniBand, sockets); the processes find each other through the host communicator (MPI):
// rank 0 makes an ncclUniqueId and broadcasts its bytes with it, then every rank joins with
// ncclCommInitRank(world size, id, rank).
//
// Built by `make cuda` when the CUDA toolkit has NCCL (nccl.h) and compiled with MINDIFF_NCCL;
// other builds (CPU, emulator) get versions that fail with "built without NCCL".
#pragma once
#include <memory>

#include "nn/communicator.h"

namespace mindiff::dist {

// True when this build has NCCL.
bool nccl_built();

// Makes this process use GPU (local rank mod the number of GPUs), so that the processes on one
// machine use different GPUs. Call it before the first CUDA tensor is made.
void use_local_gpu(const Communicator& host);

// An NCCL communicator over the same ranks as `host` (a collective: every rank calls it). Its
// all_reduce_sum and broadcast take device pointers and return when the result is in place.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host);

}  // namespace mindiff::dist
