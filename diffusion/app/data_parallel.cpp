// DataParallel (see data_parallel.h).
#include "diffusion/app/data_parallel.h"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "data/crc32.h"
#include "data/file_io.h"
#include "tensor/error.h"

namespace mindiff::diffusion {

namespace {
// Dropout streams of ranks in a multi-process run: rank r draws from block 2^62 + r 2^48 of the
// step's Philox stream, far from the training draws (which start at block 0) and from each other.
constexpr uint64_t kDropoutBlocks = uint64_t(1) << 62, kRankBlocks = uint64_t(1) << 48;
}  // namespace

DataParallel::DataParallel(dist::Communicator& comm, int64_t global_batch, int threads)
    : comm_(comm), global_batch_(global_batch), threads_(threads) {
  const int n = comm.world_size();
  MD_CHECK(global_batch % n == 0, "--batch ", global_batch, " is the global batch, split evenly "
           "over the ", n, " processes: it must be a multiple of ", n);
  local_batch_ = global_batch / n;
  if (n > 1 && threads_ == 0 && !std::getenv("OMP_NUM_THREADS")) {
    // mpirun usually binds each rank to cores: then its cores are all its own. Unbound ranks on
    // one machine share all of its cores.
    const int mine = omp_get_num_procs(), all = static_cast<int>(std::thread::hardware_concurrency());
    threads_ = mine < all ? mine : std::max(1, mine / comm.local_size());
  }
}

Generator* DataParallel::dropout_generator(Generator& gen, Generator& scratch) const {
  if (world_size() == 1) return &gen;
  scratch = Generator(gen.seed, kDropoutBlocks + static_cast<uint64_t>(rank()) * kRankBlocks);
  return &scratch;
}

bool DataParallel::agree_stop(bool stop_requested) {
  if (world_size() == 1) return stop_requested;
  float any = stop_requested ? 1.0f : 0.0f;
  comm_.all_reduce_sum(&any, 1);
  return any > 0.0f;
}

void DataParallel::average_losses(std::vector<StepLoss>& losses) {
  if (world_size() == 1 || losses.empty()) return;
  std::vector<float> sums(losses.size());
  for (size_t i = 0; i < losses.size(); ++i) sums[i] = static_cast<float>(losses[i].loss);
  comm_.all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  for (size_t i = 0; i < losses.size(); ++i)
    losses[i].loss = static_cast<double>(sums[i]) / world_size();
}

std::string DataParallel::parameter_checksums(const std::vector<Tensor>& params, int64_t step) {
  uint32_t crc = kCrc32Init;
  for (const Tensor& p : params) {
    const std::vector<float> v = p.to_vector();
    crc = crc32_update(crc, v.data(), v.size() * sizeof(float));
  }
  crc = crc32_final(crc);
  std::string all;
  bool same = true;
  for (int r = 0; r < world_size(); ++r) {  // a few bytes from each rank in turn
    uint32_t theirs = crc;
    comm_.broadcast(&theirs, sizeof theirs, r);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", theirs);
    all += (r ? "," : "") + std::string(hex);
    same = same && theirs == crc;
  }
  MD_CHECK(same, "after step ", step, " the processes hold different parameters (CRC-32 by "
           "rank: ", all, "); stopping rather than training diverged copies");
  return all;
}

std::optional<nn::Checkpoint> DataParallel::read_checkpoint(const RunFolder& run) {
  if (world_size() == 1) {
    if (!run.has_checkpoint()) return std::nullopt;
    return nn::load_checkpoint(run.checkpoint());
  }
  std::vector<uint8_t> bytes;
  if (root() && run.has_checkpoint()) bytes = read_file(run.checkpoint());
  uint64_t size = bytes.size();  // 0: no checkpoint (a valid one is never empty)
  comm_.broadcast(&size, sizeof size, 0);
  if (size == 0) return std::nullopt;
  bytes.resize(size);
  comm_.broadcast(bytes.data(), size, 0);
  return nn::load_checkpoint_bytes(bytes, run.checkpoint());
}

int run_on_every_rank(dist::Communicator& comm, const std::function<int()>& body) {
  if (comm.world_size() == 1) return body();
  // What the other ranks would print is rank 0's (progress, notes); their errors go to stderr.
  if (!comm.is_root() && !std::freopen("/dev/null", "w", stdout))
    std::fprintf(stderr, "train (rank %d): cannot silence stdout\n", comm.rank());
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train (rank %d of %d): %s\ntrain: stopping every process of the job\n",
                 comm.rank(), comm.world_size(), e.what());
    std::fflush(stderr);
    comm.abort_job(2);
    return 2;
  }
}

}  // namespace mindiff::diffusion
