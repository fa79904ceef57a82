// The MPI communicator (communicator.h): MPI_COMM_WORLD, host memory. Compiled with MPI's
// headers and MINDIFF_MPI when the Makefile finds MPI; without them only the parts that say so.
//
// Failures. MPI's default error handler (MPI_ERRORS_ARE_FATAL) ends the whole job with MPI's own
// message on any failed call, and mpirun ends the job when a process dies or exits with a
// non-zero status, so a rank that is killed never leaves the others waiting in a collective.
#include <algorithm>
#include <cstdlib>

#include "nn/communicator.h"
#include "tensor/error.h"

#ifdef MINDIFF_MPI
// The C API only: without these, mpi.h also declares MPI's withdrawn C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#endif

namespace mindiff::dist {

int launcher_world_size() {
  // Open MPI's mpirun, MPICH's Hydra (PMI), and PMIx launchers such as Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* v = std::getenv(name);
    if (v && *v) return std::max(1, std::atoi(v));
  }
  return 0;
}

#ifndef MINDIFF_MPI

bool mpi_built() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator() {
  throw Error("this build has no MPI: install Open MPI (`make deps`) and rebuild (`make`)");
}

#else

bool mpi_built() { return true; }

namespace {

// MPI counts are ints: larger buffers go in pieces of at most INT_MAX elements.
constexpr int64_t kMaxCount = INT_MAX;

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    MD_CHECK(!initialized, "MPI was initialised twice in one process");
    // Only the thread that initialised MPI calls it (OpenMP threads never do).
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // The processes that share this machine's memory: for threads and GPUs per process.
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    int machines = local_rank_ == 0 ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &machines, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    v = v.substr(0, v.find_first_of(",\n"));  // "Open MPI v4.1.4"
    description_ = "MPI (" + v + "): " + std::to_string(size_) + " processes on " +
                   std::to_string(machines) + (machines == 1 ? " machine" : " machines");
  }
  ~MpiCommunicator() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string description() const override { return description_; }

  void all_reduce_sum(float* data, int64_t n) override {
    for (int64_t done = 0; done < n; done += kMaxCount)
      MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(std::min(kMaxCount, n - done)),
                    MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MD_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of ", size_);
    char* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes; done += kMaxCount)
      MPI_Bcast(p + done, static_cast<int>(std::min<size_t>(kMaxCount, bytes - done)), MPI_BYTE,
                root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void abort_job(int status) override { MPI_Abort(MPI_COMM_WORLD, status); }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string description_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

#endif

}  // namespace mindiff::dist
