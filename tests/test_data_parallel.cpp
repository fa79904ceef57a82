// Data-parallel pieces without MPI: row slices of the random draws, sharded training draws,
// and GradientSync / DataParallel between ranks simulated as threads of this process.
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "diffusion/app/data_parallel.h"
#include "diffusion/objectives.h"
#include "diffusion/process.h"
#include "nn/grad_sync.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

// Bitwise equality of two float vectors (random draws must be the very same numbers).
void expect_bits_equal(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
}

std::vector<float> concat(const std::vector<Tensor>& parts) {
  std::vector<float> all;
  for (const Tensor& t : parts) {
    std::vector<float> v = t.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(RandomRows, SlicesOfAGlobalDrawAreItsRowsWhateverTheSplit) {
  // 3 values per row: rows 1 and 4 start inside a Philox block (normals take 2 per block,
  // uniforms 4), the unaligned case.
  for (bool normal : {true, false}) {
    Generator whole(11, 5);
    const Tensor full = normal ? randn(Shape({5, 3}), whole) : rand(Shape({5, 3}), whole);
    std::vector<Tensor> parts;
    Generator gen(11, 5);
    const int64_t cuts[] = {0, 1, 4, 5};
    for (int k = 0; k < 3; ++k) {
      Generator g(11, 5);
      const Shape shape({cuts[k + 1] - cuts[k], 3});
      parts.push_back(normal ? randn_rows(shape, g, cuts[k], 5) : rand_rows(shape, g, cuts[k], 5));
      EXPECT_EQ(g.offset, whole.offset) << "a slice must use up the whole draw";
    }
    expect_bits_equal(concat(parts), full.to_vector());
  }
  Generator g(1);
  test::expect_error([&] { randn_rows(Shape({3, 2}), g, 2, 4); }, {"rows [2, 5)", "4 rows"});
}

TEST(BatchShard, TwoShardsDrawWhatTheWholeBatchDraws) {
  const auto process = diffusion::make_process("vp");
  diffusion::Objective objective;
  objective.p_uncond = 0.5;
  const int64_t kBatch = 6, kHalf = 3;
  const Tensor x0 = randn(Shape({kBatch, 2}), 3);
  const std::vector<int64_t> labels = {0, 1, 2, 3, 4, 5};
  // A fixed "network" without parameters: whatever it is, the draws decide the loss.
  const diffusion::ModelFn model = [](const Tensor& xt, const Tensor& t, const std::vector<int64_t>&) {
    return xt * 0.5f + t.reshape(Shape({t.size(0), 1})) * 0.25f;
  };
  Generator g_full(77);
  const std::vector<float> t_full =
      diffusion::sample_train_times(kBatch, *process, objective, g_full).to_vector();
  const std::vector<int64_t> l_full = diffusion::drop_labels(labels, 0.5, g_full);
  Generator g_loss(77);
  const float loss_full = diffusion::diffusion_loss(model, x0, labels, *process, objective, g_loss).item();

  std::vector<float> t_parts;
  std::vector<int64_t> l_parts;
  double loss_parts[2] = {0, 0};
  for (int r = 0; r < 2; ++r) {
    const diffusion::BatchShard shard{r * kHalf, kBatch};
    Generator g(77);
    const std::vector<float> t = diffusion::sample_train_times(kHalf, *process, objective, g, shard).to_vector();
    t_parts.insert(t_parts.end(), t.begin(), t.end());
    const std::vector<int64_t> mine(labels.begin() + r * kHalf, labels.begin() + (r + 1) * kHalf);
    const std::vector<int64_t> l = diffusion::drop_labels(mine, 0.5, g, shard);
    l_parts.insert(l_parts.end(), l.begin(), l.end());
    Generator gl(77);
    loss_parts[r] = diffusion::diffusion_loss(model, x0.slice(0, r * kHalf, (r + 1) * kHalf), mine,
                                              *process, objective, gl, shard).item();
  }
  expect_bits_equal(t_parts, t_full);
  EXPECT_EQ(l_parts, l_full);
  // The mean of the two half-batch means is the whole batch's mean, up to rounding: float sums
  // of a dozen terms of size ~1 in another order differ by a few ulps of the result.
  constexpr double kSumOrderTol = 1e-6;
  const double mean = (loss_parts[0] + loss_parts[1]) / 2;
  EXPECT_NEAR(mean, loss_full, kSumOrderTol * std::abs(loss_full));
  // The check can fail: rank 1 drawing rank 0's rows (shard first = 0) gets another loss.
  Generator gw(77);
  const double wrong = diffusion::diffusion_loss(
      model, x0.slice(0, kHalf, kBatch), std::vector<int64_t>(labels.begin() + kHalf, labels.end()),
      *process, objective, gw, diffusion::BatchShard{0, kBatch}).item();
  EXPECT_GT(std::abs(wrong - loss_parts[1]), 100 * kSumOrderTol * std::abs(loss_parts[1]));
}

// ---- ranks as threads ----

// What the threads of a simulated job share: a reusable barrier and one pointer per rank.
struct ThreadGroup {
  explicit ThreadGroup(int n) : size(n), slots(n) {}
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex);
    const uint64_t gen = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      cv.notify_all();
    } else {
      cv.wait(lock, [&] { return generation != gen; });
    }
  }
  int size;
  std::vector<void*> slots;
  std::mutex mutex;
  std::condition_variable cv;
  int arrived = 0;
  uint64_t generation = 0;
};

// A Communicator for one rank of a ThreadGroup: sums in rank order, like a deterministic MPI.
class ThreadCommunicator : public dist::Communicator {
 public:
  ThreadCommunicator(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return g_.size; }
  int local_rank() const override { return rank_; }
  int local_size() const override { return g_.size; }
  std::string description() const override { return "threads"; }
  void all_reduce_sum(float* data, int64_t n) override {
    g_.slots[rank_] = data;
    g_.barrier();
    std::vector<float> sum(static_cast<size_t>(n), 0.0f);
    for (int q = 0; q < g_.size; ++q)
      for (int64_t i = 0; i < n; ++i) sum[i] += static_cast<float*>(g_.slots[q])[i];
    g_.barrier();  // everyone has read every input before anyone overwrites its own
    std::memcpy(data, sum.data(), sum.size() * sizeof(float));
  }
  void broadcast(void* data, size_t bytes, int root) override {
    g_.slots[rank_] = data;
    g_.barrier();
    if (rank_ != root) std::memcpy(data, g_.slots[root], bytes);
    g_.barrier();
  }
  void barrier() override { g_.barrier(); }
  void abort_job(int) override { std::abort(); }

 private:
  ThreadGroup& g_;
  int rank_;
};

// Runs body(comm) on `n` threads, one per rank, and rethrows the first failure's message.
template <class Body>
void run_ranks(int n, Body body) {
  ThreadGroup group(n);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(n);
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      try {
        body(comm);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

// The same four parameters on every rank (sizes 12, 5, 40, 4 floats).
std::vector<Tensor> make_params() {
  return {test::param(Shape({3, 4}), 1), test::param(Shape({5}), 2), test::param(Shape({40}), 3),
          test::param(Shape({2, 2}), 4)};
}
Tensor rank_grad(const Tensor& p, int rank, size_t i) { return randn(p.shape(), 100 + 10 * rank + i); }

TEST(GradientSync, BucketsFollowTheSizeLimitAndABigParameterGetsItsOwn) {
  auto comm = dist::make_single_communicator();
  dist::GradientSync sync(*comm, make_params(), /*bucket_bytes=*/16 * sizeof(float));
  // 12 | 5 (12 + 5 > 16) | 40 (alone, larger than a bucket) | 4
  ASSERT_EQ(sync.num_buckets(), 4);
  EXPECT_EQ(sync.bucket_numel(0), 12);
  EXPECT_EQ(sync.bucket_numel(1), 5);
  EXPECT_EQ(sync.bucket_numel(2), 40);
  EXPECT_EQ(sync.bucket_numel(3), 4);
  dist::GradientSync one(*comm, make_params());
  EXPECT_EQ(one.num_buckets(), 1);
}

TEST(GradientSync, AveragesGradientsOverRanksAndKeepsMissingOnesMissing) {
  constexpr int kRanks = 3;
  std::vector<std::vector<Tensor>> result(kRanks);
  run_ranks(kRanks, [&](dist::Communicator& comm) {
    std::vector<Tensor> params = make_params();
    for (size_t i = 0; i < params.size(); ++i) {
      if (i == 1) continue;                      // no rank has a gradient for parameter 1
      if (i == 3 && comm.rank() != 2) continue;  // only rank 2 has one for parameter 3
      params[i].impl()->grad = rank_grad(params[i], comm.rank(), i).impl_ptr();
    }
    dist::GradientSync sync(comm, params, 16 * sizeof(float));
    sync.average_gradients();
    result[comm.rank()] = params;
  });
  for (int r = 0; r < kRanks; ++r) {
    const std::vector<Tensor>& p = result[r];
    ASSERT_EQ(p.size(), 4u);
    EXPECT_FALSE(p[1].grad().defined()) << "rank " << r;
    for (size_t i : {0u, 2u, 3u}) {
      ASSERT_TRUE(p[i].grad().defined()) << "rank " << r << " parameter " << i;
      // The expected mean, summed in rank order as the communicator does (so exactly equal).
      std::vector<float> want(p[i].numel(), 0.0f);
      for (int q = 0; q < kRanks; ++q) {
        if (i == 3 && q != 2) continue;
        const std::vector<float> g = rank_grad(p[i], q, i).to_vector();
        for (size_t k = 0; k < want.size(); ++k) want[k] += g[k];
      }
      for (float& w : want) w *= 1.0f / kRanks;
      expect_bits_equal(p[i].grad().to_vector(), want);
    }
  }
}

TEST(GradientSync, BroadcastGivesEveryRankRankZerosParameters) {
  std::vector<std::vector<float>> got(2);
  const std::vector<float> want = concat(make_params());
  run_ranks(2, [&](dist::Communicator& comm) {
    std::vector<Tensor> params = make_params();
    if (comm.rank() == 1)
      for (const Tensor& p : params) p.fill_(7.0f);
    dist::GradientSync sync(comm, params, 16 * sizeof(float));
    sync.broadcast_parameters();
    got[comm.rank()] = concat(params);
  });
  expect_bits_equal(got[0], want);
  expect_bits_equal(got[1], want);
}

TEST(DataParallel, RanksAgreeOnTheMeanLossesAndOnStopping) {
  std::vector<char> stops(2), quiet(2, 1);  // not vector<bool>: each rank writes its own byte
  std::vector<std::vector<diffusion::StepLoss>> read(2);
  run_ranks(2, [&](dist::Communicator& comm) {
    diffusion::DataParallel dp(comm, /*global_batch=*/8, /*threads=*/1);
    EXPECT_EQ(dp.local_batch(), 4);
    EXPECT_EQ(dp.shard().first, 4 * comm.rank());
    stops[comm.rank()] = dp.agree_stop(/*stop=*/comm.rank() == 1);
    quiet[comm.rank()] = dp.agree_stop(false);
    // Three steps' losses: rank 0 has 1, 2, NaN; rank 1 has 3, 6, 0.
    const int r = comm.rank();
    std::vector<diffusion::StepLoss> mine = {{5, r == 0 ? 1.0 : 3.0, 0.1, 1.0},
                                             {6, r == 0 ? 2.0 : 6.0, 0.1, 2.0},
                                             {7, r == 0 ? NAN : 0.0, 0.1, 3.0}};
    dp.average_losses(mine);
    read[r] = mine;
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(stops[r]) << "rank " << r;
    EXPECT_FALSE(quiet[r]) << "rank " << r;
    ASSERT_EQ(read[r].size(), 3u);
    EXPECT_EQ(read[r][0].loss, 2.0);
    EXPECT_EQ(read[r][1].loss, 4.0);
    EXPECT_TRUE(std::isnan(read[r][2].loss)) << "a NaN on one rank reaches every rank";
    EXPECT_EQ(read[r][1].step, 6);
  }
}

TEST(DataParallel, DivergedParametersAndUnevenBatchesAreErrors) {
  std::vector<std::string> errors(2);
  ThreadGroup group(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      diffusion::DataParallel dp(comm, 8, 1);
      std::vector<Tensor> params = make_params();
      if (r == 1) params[2].set({17}, 0.5f);
      try {
        dp.parameter_checksums(params, 12);
      } catch (const Error& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const std::string& e : errors) {
    EXPECT_NE(e.find("after step 12 the processes hold different parameters"), std::string::npos) << e;
  }
  ThreadGroup three(3);
  ThreadCommunicator comm(three, 0);
  test::expect_error([&] { diffusion::DataParallel(comm, 8, 1); }, {"--batch 8", "multiple of 3"});
}

}  // namespace
}  // namespace mindiff
