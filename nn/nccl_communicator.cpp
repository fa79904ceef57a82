// The NCCL communicator (see nccl_communicator.h). With MINDIFF_NCCL (make cuda, compiled by
// nvcc against the toolkit's nccl.h and linked with -lnccl) the real one; otherwise every entry
// point fails with a message saying what to build.
//
// Streams. mindiff's kernels and copies run on the legacy default stream (cuda/backend_cuda.cpp),
// so the collectives are queued there too: they start after the backward kernels that wrote the
// gradients, and each call waits for its result (cudaStreamSynchronize) before returning, so the
// caller may read or reuse the buffer at once.
#include "nn/nccl_communicator.h"

#include "tensor/error.h"

#ifdef MINDIFF_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace mindiff::dist {

#ifndef MINDIFF_NCCL

namespace {
[[noreturn]] void no_nccl(const char* what) {
  throw Error(std::string(what) + ": this build has no NCCL (data-parallel training on GPUs "
                                  "needs `make cuda` with a CUDA toolkit that has nccl.h)");
}
}  // namespace

bool nccl_built() { return false; }
void use_local_gpu(const Communicator&) { no_nccl("use_local_gpu"); }
std::unique_ptr<Communicator> make_nccl_communicator(Communicator&) {
  no_nccl("make_nccl_communicator");
}

#else

namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(Communicator& host) : host_(host) {
    ncclUniqueId id;
    if (host.is_root()) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host.broadcast(&id, sizeof id, 0);  // MPI_Bcast of the id's bytes
    check(ncclCommInitRank(&comm_, host.world_size(), id, host.rank()), "ncclCommInitRank");
    int version = 0;
    ncclGetVersion(&version);
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    description_ = "NCCL " + std::to_string(version / 10000) + "." +
                   std::to_string(version / 100 % 100) + ": " + std::to_string(host.world_size()) +
                   " GPUs (this rank: GPU " + std::to_string(device) + ")";
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return host_.rank(); }
  int world_size() const override { return host_.world_size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }
  std::string description() const override { return description_; }

  void all_reduce_sum(float* data, int64_t n) override {
    check(ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat, ncclSum, comm_, kStream),
          "ncclAllReduce");
    wait("ncclAllReduce");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MD_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " is not a rank");
    check(ncclBroadcast(data, data, bytes, ncclChar, root, comm_, kStream), "ncclBroadcast");
    wait("ncclBroadcast");
  }
  void barrier() override { host_.barrier(); }
  void abort_job(int status) override {
    ncclCommAbort(comm_);
    host_.abort_job(status);
  }

 private:
  static constexpr cudaStream_t kStream = 0;  // the legacy default stream (see the top)

  void check(ncclResult_t r, const char* what) const {
    if (r != ncclSuccess) throw Error(std::string(what) + ": " + ncclGetErrorString(r));
  }
  // Waits for the stream, then asks NCCL whether a peer failed while we waited.
  void wait(const char* what) const {
    check_cuda(cudaStreamSynchronize(kStream), what);
    ncclResult_t async = ncclSuccess;
    check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
    check(async, what);
  }

  Communicator& host_;
  ncclComm_t comm_ = nullptr;
  std::string description_;
};

}  // namespace

bool nccl_built() { return true; }

void use_local_gpu(const Communicator& host) {
  int count = 0;
  check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  MD_CHECK(count > 0, "use_local_gpu: no CUDA device on this machine");
  check_cuda(cudaSetDevice(host.local_rank() % count), "cudaSetDevice");
}

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host) {
  return std::make_unique<NcclCommunicator>(host);
}

#endif

}  // namespace mindiff::dist
