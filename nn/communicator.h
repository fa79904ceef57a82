// Collective communication between the processes of a data-parallel job: who am I (rank), how
// many are we (world size), and the three collectives data-parallel training needs:
//
//   all_reduce_sum  x_r <- sum over ranks q of x_q      (every rank gets the same sum)
//   broadcast       x_r <- x_root                       (parameters, a checkpoint's bytes)
//   barrier         no rank leaves before all have entered
//
// Three implementations behind this one interface, chosen where the job starts:
//   single process  world size 1: the collectives do nothing (a plain `./train`)
//   MPI             nn/mpi_communicator.cpp, between processes and machines, host memory
//   NCCL            nn/nccl_communicator.cpp, between GPUs, device memory (make cuda)
// Rank 0 is the root: the one process that writes files and prints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mindiff::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;        // in [0, world_size())
  virtual int world_size() const = 0;
  // Processes on this machine, and this one's index among them (GPU choice, thread count).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual std::string description() const = 0;  // "MPI: Open MPI v4.1.4, 2 processes on 1 machine"

  // In place, over `n` floats at `data` (host memory, or device memory for NCCL).
  virtual void all_reduce_sum(float* data, int64_t n) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with `status` (after an error on one rank, so that the others
  // do not wait for it forever). Returns only for a single process, which the caller then ends.
  virtual void abort_job(int status) = 0;

  bool is_root() const { return rank() == 0; }
};

// The communicator of this process, made on first use and kept until exit: MPI when the
// process was started by an MPI launcher (mpirun, srun; recognised by the variables they set)
// and this build has MPI, else a single process. A launch by mpirun of a build without MPI, with
// more than one process, is an Error saying how to rebuild (rather than N separate runs).
Communicator& process_communicator();

// A communicator of one process (tests, and the fallback above).
std::unique_ptr<Communicator> make_single_communicator();

// ---- implemented in nn/mpi_communicator.cpp ----
// True when this build has MPI (the Makefile found it and defined MINDIFF_MPI).
bool mpi_built();
// The world size an MPI launcher announced in the environment, or 0 when there was none.
int launcher_world_size();
// MPI_Init and MPI_COMM_WORLD; MPI_Finalize when destroyed. Error in a build without MPI.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace mindiff::dist
