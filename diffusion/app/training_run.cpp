// A training run's checkpoints, stop signals and noise keys (training_run.h).
#include "diffusion/app/training_run.h"

#include <omp.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "data/file_io.h"
#include "data/open.h"
#include "diffusion/app/broken_pipe.h"
#include "diffusion/app/settings.h"
#include "nn/checkpoint.h"

namespace mindiff::diffusion {

uint64_t step_key(uint64_t seed, int64_t step) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step) + 0x632BE59BD9B4E019ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Dataset open_training_data(const TrainSettings& s) {
  OpenOptions open;
  open.image_size = s.image_size;
  open.channels = static_cast<int>(s.channels);
  open.toy_seed = static_cast<uint64_t>(s.seed);
  Dataset data = open_dataset(s.data, open);
  MD_CHECK(!s.conditional || data.labeled(), "--conditional: dataset ", data.name, " has no labels");
  return data;
}

nn::AdamOptions adam_options(const TrainSettings& s) {
  nn::AdamOptions adam;
  adam.lr = static_cast<float>(s.lr);
  adam.weight_decay = static_cast<float>(s.weight_decay);
  return adam;
}

void announce_new_run(const std::string& config, int64_t parameters, const Dataset& data,
                      const RunFolder& run) {
  std::printf("training %s (%ld parameters) on %s (%ld examples) into %s\n", config.c_str(),
              static_cast<long>(parameters), data.name.c_str(), static_cast<long>(data.size()),
              run.dir().c_str());
}

LoaderOptions loader_options(const TrainSettings& s, const DataParallel& dp) {
  LoaderOptions lo;
  lo.batch_size = dp.local_batch();
  lo.hflip = s.hflip;
  lo.seed = static_cast<uint64_t>(s.seed);
  lo.rank = dp.rank();
  lo.world_size = dp.world_size();
  return lo;
}

int report_non_finite_loss(double loss, int64_t step, const RunFolder& run, Progress& progress) {
  progress.finish();
  std::fprintf(stderr,
               "train: the loss is %f at step %ld; stopping. The last good checkpoint (if any) is "
               "untouched in %s. Try a lower --lr or --grad-clip.\n",
               loss, static_cast<long>(step), run.dir().c_str());
  return 1;
}

int report_interrupted(int64_t done, const RunFolder& run, Progress& progress) {
  progress.finish();
  std::printf("interrupted after step %ld: checkpoint saved in %s; run the same command to "
              "continue\n",
              static_cast<long>(done), run.checkpoint().c_str());
  return 130;
}

// ---- stop signals ----

namespace {
volatile std::sig_atomic_t g_stop_requested = 0;
void on_stop_signal(int) { g_stop_requested = 1; }
}  // namespace

StopSignals::StopSignals() {
  g_stop_requested = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;  // the default action (kill) is back after the first signal
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  stop_on_broken_pipe(&g_stop_requested,
                      "train: the standard output was closed; stopping after this step with a "
                      "checkpoint saved (rerun the command to continue)\n");
}

bool StopSignals::requested() const { return g_stop_requested != 0; }

// ---- checkpoints ----

namespace {

// User + system CPU time of this process so far, all threads.
double process_cpu_seconds() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + names[i];
  return s;
}

// Checkpoints written before settings were recorded as "true"/"false" wrote "yes"/"no".
std::string recorded_value(const std::string& v) {
  return v == "yes" ? "true" : v == "no" ? "false" : v;
}

}  // namespace

RunCheckpoints::RunCheckpoints(RunFolder& run, DataParallel& dp, TrainingState state,
                               std::string model_config, std::map<std::string, std::string> identity,
                               std::string record, std::vector<std::string> class_names,
                               Device device)
    : run_(run),
      dp_(dp),
      state_(std::move(state)),
      model_config_(std::move(model_config)),
      identity_(std::move(identity)),
      record_(std::move(record)),
      class_names_(std::move(class_names)),
      device_(device) {}

// Checkpoints hold host copies (the optimizer's and EMA's states are host copies already), so
// the file is the same whatever the device, and loads on either.
nn::Checkpoint RunCheckpoints::make(int64_t step) const {
  nn::Checkpoint ck;
  ck.model_config = model_config_;
  for (const auto& [name, t] : state_.named) ck.model.push_back({name, t.to(Device::CPU)});
  if (state_.ema) ck.ema = state_.ema->state();
  ck.optimizer = state_.optimizer.state();
  ck.step = static_cast<uint64_t>(step);
  const LoaderCursor c = state_.loader.cursor();
  ck.data = nn::DataCursor{c.epoch, c.position, c.seed};
  ck.extras = identity_;
  ck.extras["settings"] = record_;
  ck.extras["threads"] = std::to_string(omp_get_max_threads());
  ck.extras["device"] = device_name(device_);
  ck.extras["processes"] = std::to_string(dp_.world_size());
  ck.extras["class_names"] = join(class_names_);
  // The run's training compute: this process's CPU time (user + system, all threads) added to
  // what earlier processes of the run spent; other jobs on a shared machine inflate it far less
  // than wall time.
  ck.extras["cpu_seconds"] = settings::text(cpu_seconds_before_ + process_cpu_seconds());
  return ck;
}

int64_t RunCheckpoints::resume_or_start(int64_t total_steps) {
  std::optional<nn::Checkpoint> resumed = dp_.read_checkpoint(run_);
  if (!resumed) {
    const std::string text = record_ + "\n";
    if (dp_.root())
      write_file_atomic(run_.settings(), reinterpret_cast<const uint8_t*>(text.data()), text.size());
    return 0;
  }
  nn::Checkpoint& ck = *resumed;
  // A setting a checkpoint does not record joined the check after the run was made: not checked.
  for (const auto& [key, value] : identity_) {
    auto it = ck.extras.find(key);
    if (it == ck.extras.end()) continue;
    MD_CHECK(recorded_value(it->second) == value, "run folder ", run_.dir(), " holds a run with ",
             key, " '", it->second, "', but this command has '", value,
             "': use the same settings to resume, or another --out for a new run");
  }
  nn::load_into(state_.named, ck.model, run_.checkpoint());
  state_.optimizer.load_state(ck.optimizer);
  if (state_.ema) state_.ema->load_state(ck.ema);
  state_.loader.set_cursor(LoaderCursor{ck.data.epoch, ck.data.position, ck.data.shuffle_seed});
  if (auto c = ck.extras.find("cpu_seconds"); c != ck.extras.end())
    cpu_seconds_before_ = std::strtod(c->second.c_str(), nullptr);
  const int64_t start = static_cast<int64_t>(ck.step);
  MD_CHECK(start <= total_steps, "run folder ", run_.dir(), " is already at step ", start,
           ", past --steps ", total_steps);
  std::printf("resuming %s from step %ld of %ld\n", run_.dir().c_str(), static_cast<long>(start),
              static_cast<long>(total_steps));
  if (!ck.extras.count("processes")) ck.extras["processes"] = "1";  // older checkpoints
  if (ck.extras["threads"] != std::to_string(omp_get_max_threads()) ||
      ck.extras["processes"] != std::to_string(dp_.world_size()))
    std::printf("note: the run started with %s threads x %s processes and resumes with %d x %d; "
                "the result will not be bit-identical to an uninterrupted run\n",
                ck.extras["threads"].c_str(), ck.extras["processes"].c_str(),
                omp_get_max_threads(), dp_.world_size());
  if (ck.extras.count("device") && ck.extras["device"] != device_name(device_))
    std::printf("note: the run started on %s and resumes on %s; the result will not be "
                "bit-identical to an uninterrupted run\n",
                ck.extras["device"].c_str(), device_name(device_));
  return start;
}

void RunCheckpoints::save(int64_t step) {
  std::vector<Tensor> params;
  for (const auto& [name, t] : state_.named) params.push_back(t);
  const std::string checksums = dp_.parameter_checksums(params, step);  // all ranks
  if (!dp_.root()) return;
  run_.flush_loss_log();
  nn::Checkpoint ck = make(step);
  ck.extras["param_crc32"] = checksums;
  nn::save_checkpoint(ck, run_.checkpoint());
  run_.plot_loss();
}

void RunCheckpoints::save_final_model(int64_t step) {
  if (!dp_.root()) return;
  nn::Checkpoint final_model = make(step);
  final_model.optimizer = nn::StateDict{};
  if (state_.ema) {
    final_model.model.clear();
    for (const nn::NamedTensor& t : state_.ema->shadow())
      final_model.model.push_back({t.name, t.tensor.to(Device::CPU)});
    final_model.ema = nn::StateDict{};
  }
  final_model.extras["weights"] = state_.ema ? "ema" : "live";
  nn::save_checkpoint(final_model, run_.model());
}

}  // namespace mindiff::diffusion
