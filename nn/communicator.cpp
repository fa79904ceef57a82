// The single-process communicator and the choice of the process's communicator (see
// communicator.h).
#include "nn/communicator.h"

#include "tensor/error.h"

namespace mindiff::dist {

namespace {

// World size 1: every collective leaves the data as it is.
class SingleCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string description() const override { return "single process"; }
  void all_reduce_sum(float*, int64_t) override {}
  void broadcast(void*, size_t, int root) override {
    MD_CHECK(root == 0, "broadcast: root ", root, " does not exist in a single process");
  }
  void barrier() override {}
  void abort_job(int) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() {
  return std::make_unique<SingleCommunicator>();
}

Communicator& process_communicator() {
  static const std::unique_ptr<Communicator> comm = [] {
    const int launched = launcher_world_size();
    if (launched == 0) return make_single_communicator();
    if (mpi_built()) return make_mpi_communicator();
    MD_CHECK(launched == 1, "started by an MPI launcher as one of ", launched,
             " processes, but this build has no MPI, so each process would train alone: install "
             "Open MPI (`make deps` installs libopenmpi-dev and openmpi-bin) and rebuild (`make`)");
    return make_single_communicator();
  }();
  return *comm;
}

}  // namespace mindiff::dist
