// mindiff_bench_mpi: the speed of data-parallel training steps, one JSON line (from rank 0).
//
// A training step as `train` runs it (loader, diffusion loss on this rank's rows, backward,
// bucketed gradient all-reduce, loss vote, clipping, AdamW) on a U-Net for 28x28 grayscale
// images, fed random images (the speed does not depend on their content). Run it alone for one
// process, or under `mpirun -np N` (make bench-mpi runs 1 process x 2 threads and 2 x 1).
//
// Reported, as medians over the timed steps after warm-up (robust to other processes taking a
// core now and then): the step time, steps/s and images/s (global batch x steps/s); and within
// the step, the time rank 0 waited at a barrier for the slowest rank ("wait_ms") and then spent
// in the gradient all-reduce and the loss vote ("sync_ms").
//
// Usage: mindiff_bench_mpi [--config "small base=16 blocks=1"] [--batch 64] [--steps 10]
//                          [--threads N]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "data/loader.h"
#include "diffusion/app/data_parallel.h"
#include "diffusion/app/flags.h"
#include "diffusion/network.h"
#include "diffusion/objectives.h"
#include "diffusion/process.h"
#include "nn/grad_sync.h"
#include "nn/optim.h"

namespace mindiff {
namespace {

constexpr int kWarmupSteps = 2;  // untimed: first-touch page faults, allocator, thread pool
constexpr int64_t kExamples = 2048;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double now_s() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

int bench(const std::string& config_text, int64_t batch, int64_t steps, int threads) {
  dist::Communicator& comm = dist::process_communicator();
  diffusion::DataParallel dp(comm, batch, threads);
  if (dp.threads() > 0) omp_set_num_threads(dp.threads());

  Dataset data;
  data.name = "random 28x28";
  data.images = randn(Shape({kExamples, 1, 28, 28}), 1);
  LoaderOptions lo;
  lo.batch_size = dp.local_batch();
  lo.rank = dp.rank();
  lo.world_size = dp.world_size();
  DataLoader loader(data, lo);

  const std::string config = diffusion::DiffusionNet::config_for_data(config_text, Shape({1, 28, 28}), 0);
  Generator init(0);
  auto net = diffusion::DiffusionNet::build(config, init);
  const std::vector<Tensor> params = net->module().parameters();
  nn::AdamW optimizer(params, nn::AdamOptions{});
  dist::GradientSync sync(comm, params);
  sync.broadcast_parameters();
  auto process = diffusion::make_process("ddpm-linear");
  diffusion::Objective objective;
  net->module().train();

  // Per timed step (rank 0's clock; the all-reduce keeps the ranks in step): the whole step, the
  // wait at a barrier for the slowest rank, and the communication itself.
  std::vector<double> step_s, wait_s, sync_s;
  for (int64_t step = 0; step < kWarmupSteps + steps; ++step) {
    const double t0 = now_s();
    Batch b = loader.next_batch();
    Generator gen(static_cast<uint64_t>(step) + 1), dropout;
    Tensor loss = diffusion::diffusion_loss(net->model_fn(dp.dropout_generator(gen, dropout)),
                                            b.images, {}, *process, objective, gen, dp.shard());
    optimizer.zero_grad();
    loss.backward();
    const double t1 = now_s();
    comm.barrier();
    const double t2 = now_s();
    sync.average_gradients();
    dp.agree(loss.item(), false);
    const double t3 = now_s();
    nn::clip_grad_norm(params, 1.0f);
    optimizer.step();
    if (step < kWarmupSteps) continue;
    step_s.push_back(now_s() - t0);
    wait_s.push_back(t2 - t1);
    sync_s.push_back(t3 - t2);
  }
  if (comm.is_root()) {
    const double step = median(step_s);
    std::printf("{\"bench\": \"data_parallel_train_step\", \"config\": \"%s\", \"parameters\": %ld, "
                "\"processes\": %d, \"threads_per_process\": %d, \"global_batch\": %ld, "
                "\"steps\": %ld, \"step_ms\": %.1f, \"steps_per_s\": %.3f, \"images_per_s\": %.1f, "
                "\"wait_ms\": %.2f, \"sync_ms\": %.2f, \"buckets\": %d, \"comm\": \"%s\"}\n",
                config.c_str(), static_cast<long>(net->module().num_parameters()),
                comm.world_size(), omp_get_max_threads(), static_cast<long>(batch),
                static_cast<long>(steps), 1000.0 * step, 1.0 / step, batch / step,
                1000.0 * median(wait_s), 1000.0 * median(sync_s), sync.num_buckets(),
                comm.description().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace mindiff

int main(int argc, char** argv) {
  using namespace mindiff;
  Flags flags("mindiff_bench_mpi", "Speed of data-parallel training steps (run under mpirun).");
  flags.add_string("config", "small base=16 blocks=1", "U-Net for 28x28x1 images");
  flags.add_int("batch", 64, "global batch (a multiple of the process count)");
  flags.add_int("steps", 10, "timed steps (after 2 warm-up steps)");
  flags.add_int("threads", 0, "threads per process (0: the cores this process may use)");
  try {
    if (!flags.parse(argc, argv)) {
      std::printf("%s", flags.usage().c_str());
      return 0;
    }
    dist::Communicator& comm = dist::process_communicator();
    return diffusion::run_on_every_rank(comm, [&] {
      return bench(flags.get_string("config"), flags.get_int("batch"), flags.get_int("steps"),
                   static_cast<int>(flags.get_int("threads")));
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mindiff_bench_mpi: %s\n", e.what());
    return 2;
  }
}
