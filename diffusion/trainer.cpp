#include "diffusion/trainer.h"

#include <omp.h>

#include <sys/resource.h>

#include <charconv>
#include <csignal>
#include <cmath>
#include <optional>
#include <sstream>

#include "data/file_io.h"
#include "data/loader.h"
#include "data/open.h"
#include "diffusion/broken_pipe.h"
#include "diffusion/data_parallel.h"
#include "diffusion/network.h"
#include "diffusion/preview.h"
#include "diffusion/progress.h"
#include "diffusion/run_folder.h"
#include "nn/grad_sync.h"
#include "cuda/nccl_communicator.h"
#include "nn/checkpoint.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace mindiff::diffusion {

namespace {

volatile std::sig_atomic_t g_stop_requested = 0;

void on_stop_signal(int) { g_stop_requested = 1; }

// SIGINT/SIGTERM ask the loop to stop after the current step; a second Ctrl-C kills at once
// (SA_RESETHAND restores the default action after the first). SIGUSR1 too: Open MPI's mpirun
// passes it on to every process unchanged (docs/distributed.md).
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  stop_on_broken_pipe(&g_stop_requested,
                      "train: the standard output was closed; stopping after this step with a "
                      "checkpoint saved (rerun the command to continue)\n");
}

// The key of step k's training noise: SplitMix64 of (seed, k), so every step has its own
// stream and a resumed run draws exactly what an uninterrupted one would.
uint64_t step_key(uint64_t seed, int64_t step) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step) + 0x632BE59BD9B4E019ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void validate(const TrainSettings& s) {
  MD_CHECK(s.steps > 0, "--steps must be positive, got ", s.steps);
  MD_CHECK(s.batch > 0, "--batch must be positive, got ", s.batch);
  MD_CHECK(s.lr > 0 && std::isfinite(s.lr), "--lr must be positive, got ", s.lr);
  MD_CHECK(s.min_lr >= 0 && s.min_lr <= s.lr, "--min-lr must be in [0, --lr], got ", s.min_lr);
  MD_CHECK(s.warmup >= 0, "--warmup must be >= 0, got ", s.warmup);
  MD_CHECK(s.weight_decay >= 0, "--weight-decay must be >= 0, got ", s.weight_decay);
  MD_CHECK(s.grad_clip >= 0, "--grad-clip must be >= 0 (0 disables), got ", s.grad_clip);
  MD_CHECK(s.ema_decay >= 0 && s.ema_decay < 1, "--ema-decay must be in [0, 1), got ", s.ema_decay);
  MD_CHECK(s.sigma_data > 0 && std::isfinite(s.sigma_data), "--sigma-data must be positive, got ",
           s.sigma_data);
  MD_CHECK(s.min_snr_gamma >= 0 && std::isfinite(s.min_snr_gamma),
           "--min-snr-gamma must be >= 0 (0: off), got ", s.min_snr_gamma);
  MD_CHECK(std::isfinite(s.p_mean), "--p-mean must be finite, got ", s.p_mean);
  MD_CHECK(s.p_std > 0 && std::isfinite(s.p_std), "--p-std must be positive, got ", s.p_std);
  MD_CHECK(s.p_uncond >= 0 && s.p_uncond < 1, "--p-uncond must be in [0, 1), got ", s.p_uncond);
  MD_CHECK(s.threads >= 0, "--threads must be >= 0 (0: all cores), got ", s.threads);
  MD_CHECK(s.checkpoint_every > 0, "--checkpoint-every must be positive, got ", s.checkpoint_every);
  MD_CHECK(s.sample_every >= 0, "--sample-every must be >= 0 (0 disables), got ", s.sample_every);
  MD_CHECK(s.log_every > 0, "--log-every must be positive, got ", s.log_every);
  MD_CHECK(s.preview_n > 0, "--preview-n must be positive, got ", s.preview_n);
  MD_CHECK(s.channels == 1 || s.channels == 3, "--channels must be 1 or 3, got ", s.channels);
  MD_CHECK(s.image_size >= 4, "--image-size must be at least 4, got ", s.image_size);
}

// User + system CPU time of this process so far, all threads.
double process_cpu_seconds() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string number(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

// The shortest text that reads back as v ("0.999"): for identity keys added since number()'s.
std::string shortest(double v) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, v).ptr);
}

// What must agree between a run folder's checkpoint and the command that resumes it.
std::map<std::string, std::string> run_identity(const TrainSettings& s, const std::string& config) {
  return {{"model", config},          {"data", s.data},
          {"process", s.process},     {"objective", s.objective},
          {"batch", std::to_string(s.batch)}, {"seed", std::to_string(s.seed)},
          {"conditional", s.conditional ? "yes" : "no"},
          {"sigma_data", number(s.sigma_data)}, {"min_snr_gamma", number(s.min_snr_gamma)},
          {"p_mean", number(s.p_mean)}, {"p_std", number(s.p_std)},
          {"ema_decay", shortest(s.ema_decay)}};
}

// Identity keys that checkpoints written before they existed do not record: such a run was
// trained with this value.
std::string identity_default(const std::string& key) {
  static const std::map<std::string, std::string> defaults = {
      {"sigma_data", number(0.5)}, {"min_snr_gamma", number(0.0)},
      {"p_mean", number(-1.2)}, {"p_std", number(1.2)}};
  auto it = defaults.find(key);
  return it == defaults.end() ? "(not recorded)" : it->second;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + names[i];
  return s;
}

// One process's part of the run (all of it without mpirun); see data_parallel.h.
int train_rank(const TrainSettings& s, DataParallel& dp) {
  if (dp.threads() > 0) omp_set_num_threads(dp.threads());

  // ---- data, model, process, objective ----
  OpenOptions open;
  open.image_size = s.image_size;
  open.channels = s.channels;
  open.toy_seed = s.seed;
  Dataset data = open_dataset(s.data, open);
  MD_CHECK(!s.conditional || data.labeled(), "--conditional: dataset ", data.name,
           " has no labels");
  const int64_t classes = s.conditional ? data.num_classes : 0;
  std::vector<int64_t> dims = data.images.shape().vec();
  const Shape sample_shape(std::vector<int64_t>(dims.begin() + 1, dims.end()));
  const std::string config = DiffusionNet::config_for_data(s.config, sample_shape, classes);
  std::shared_ptr<Process> process = make_process(s.process);
  Objective objective;
  objective.kind = parse_parameterization(s.objective, s.sigma_data);
  check_parameterization(objective.kind, *process);
  objective.min_snr_gamma = s.min_snr_gamma;
  objective.p_mean = s.p_mean;
  objective.p_std = s.p_std;
  objective.p_uncond = s.conditional ? s.p_uncond : 0.0;

  RunFolder run(s.out, /*create=*/dp.root());
  Generator init_gen(s.seed);
  std::shared_ptr<DiffusionNet> net = DiffusionNet::build(config, init_gen);
  nn::Module& model = net->module();
  if (s.device == Device::CUDA && dp.world_size() > 1) dist::use_local_gpu(dp.comm());
  model.to(s.device);  // first: the optimizer and the EMA make their state where the weights are
  const auto named = model.named_parameters();
  const std::vector<Tensor> params = model.parameters();
  nn::AdamOptions adam;
  adam.lr = static_cast<float>(s.lr);
  adam.weight_decay = static_cast<float>(s.weight_decay);
  nn::AdamW optimizer(params, adam);
  std::unique_ptr<nn::Ema> ema;
  if (s.ema_decay > 0) ema = std::make_unique<nn::Ema>(named, nn::EmaOptions{s.ema_decay, /*warmup=*/true});
  LoaderOptions lo;
  lo.batch_size = dp.local_batch();
  lo.hflip = s.hflip;
  lo.seed = s.seed;
  lo.rank = dp.rank();
  lo.world_size = dp.world_size();
  DataLoader loader(data, lo);
  const nn::LrSchedule schedule = nn::LrSchedule::warmup_cosine(
      static_cast<float>(s.lr), static_cast<float>(s.min_lr), std::min(s.warmup, s.steps), s.steps);

  const auto identity = run_identity(s, config);
  double cpu_seconds_before = 0;  // CPU time of the processes that ran this run's earlier steps
  // Checkpoints hold host copies (the optimizer's and EMA's states are host copies already), so
  // the file is the same whatever the device, and loads on either.
  auto make_checkpoint = [&](int64_t step) {
    nn::Checkpoint ck;
    ck.model_config = config;
    for (const auto& [name, t] : named) ck.model.push_back({name, t.to(Device::CPU)});
    if (ema) ck.ema = ema->state();
    ck.optimizer = optimizer.state();
    ck.step = static_cast<uint64_t>(step);
    ck.generator = Generator(s.seed, 0);
    LoaderCursor c = loader.cursor();
    ck.data = nn::DataCursor{c.epoch, c.position, c.seed};
    ck.extras = identity;
    ck.extras["settings"] = s.settings_line;
    ck.extras["threads"] = std::to_string(omp_get_max_threads());
    ck.extras["device"] = device_name(s.device);
    // CPU time of this process (user + system, all threads) added to what earlier processes of
    // the run spent: the run's training compute, which other jobs on a shared machine inflate
    // far less than wall time.
    ck.extras["cpu_seconds"] = number(cpu_seconds_before + process_cpu_seconds());
    ck.extras["processes"] = std::to_string(dp.world_size());
    ck.extras["class_names"] = join_names(data.class_names);
    return ck;
  };

  // ---- resume ----
  int64_t start = 0;
  std::optional<nn::Checkpoint> resumed = dp.read_checkpoint(run);
  if (resumed) {
    nn::Checkpoint& ck = *resumed;
    if (!ck.extras.count("ema_decay"))  // older checkpoints: the decay their EMA state records
      ck.extras["ema_decay"] = shortest(ck.ema.kind == "ema" ? ck.ema.scalar("decay") : 0.0);
    for (const auto& [key, value] : identity) {
      auto it = ck.extras.find(key);
      std::string was = it == ck.extras.end() ? identity_default(key) : it->second;
      MD_CHECK(was == value, "run folder ", run.dir(), " holds a run with ", key, " '", was,
               "', but this command has '", value,
               "': use the same settings to resume, or another --out for a new run");
    }
    nn::load_into(named, ck.model, run.checkpoint());
    optimizer.load_state(ck.optimizer);
    if (ema) ema->load_state(ck.ema);
    loader.set_cursor(LoaderCursor{ck.data.epoch, ck.data.position, ck.data.shuffle_seed});
    if (auto c = ck.extras.find("cpu_seconds"); c != ck.extras.end())
      cpu_seconds_before = std::strtod(c->second.c_str(), nullptr);
    start = static_cast<int64_t>(ck.step);
    MD_CHECK(start <= s.steps, "run folder ", run.dir(), " is already at step ", start,
             ", past --steps ", s.steps);
    std::printf("resuming %s from step %ld of %ld\n", run.dir().c_str(), static_cast<long>(start),
                static_cast<long>(s.steps));
    if (!ck.extras.count("processes")) ck.extras["processes"] = "1";  // older checkpoints
    if (ck.extras["threads"] != std::to_string(omp_get_max_threads()) ||
        ck.extras["processes"] != std::to_string(dp.world_size()))
      std::printf("note: the run started with %s threads x %s processes and resumes with %d x %d; "
                  "the result will not be bit-identical to an uninterrupted run\n",
                  ck.extras["threads"].c_str(), ck.extras["processes"].c_str(),
                  omp_get_max_threads(), dp.world_size());
    if (ck.extras.count("device") && ck.extras["device"] != device_name(s.device))
      std::printf("note: the run started on %s and resumes on %s; the result will not be "
                  "bit-identical to an uninterrupted run\n",
                  ck.extras["device"].c_str(), device_name(s.device));
  } else {
    std::string text = s.settings_line + "\n";
    if (dp.root())
      write_file_atomic(run.settings(), reinterpret_cast<const uint8_t*>(text.data()), text.size());
    std::printf("training %s (%ld parameters) on %s (%ld examples) into %s\n", config.c_str(),
                static_cast<long>(model.num_parameters()), data.name.c_str(),
                static_cast<long>(data.size()), run.dir().c_str());
  }
  dist::GradientSync grad_sync(dp.comm(), params);
  grad_sync.broadcast_parameters();  // every rank starts from rank 0's weights
  if (dp.root()) run.open_loss_log(start);

  Preview preview(*net, process, objective.kind, data, s.conditional, s.preview_sampler,
                  static_cast<int>(s.preview_steps), s.preview_n, s.seed);
  auto save = [&](int64_t step) {
    const std::string checksums = dp.parameter_checksums(params, step);  // all ranks
    if (!dp.root()) return;
    run.flush_loss_log();
    nn::Checkpoint ck = make_checkpoint(step);
    ck.extras["param_crc32"] = checksums;
    nn::save_checkpoint(ck, run.checkpoint());
    run.plot_loss();
  };

  // ---- the loop ----
  g_stop_requested = 0;
  install_stop_handlers();
  Progress progress(start, s.steps, s.log_every);
  model.train();
  for (int64_t step = start; step < s.steps; ++step) {
    Batch batch = loader.next_batch();
    Generator gen(step_key(s.seed, step)), dropout;
    const std::vector<int64_t> labels = s.conditional ? batch.labels : std::vector<int64_t>{};
    // The batch goes to the device; its labels become one-hot rows there (ClassEmbedding), and
    // the loss draws its noise there and sends the network times there (the same numbers as on
    // the CPU, from the same generator). Only the scalar loss comes back.
    const Tensor images = batch.images.to(s.device);
    Tensor loss = diffusion_loss(net->model_fn(dp.dropout_generator(gen, dropout)), images,
                                 labels, *process, objective, gen, dp.shard());
    optimizer.zero_grad();
    loss.backward();
    grad_sync.average_gradients();
    const DataParallel::Vote vote = dp.agree(loss.item(), g_stop_requested);
    const double value = vote.loss;
    if (!std::isfinite(value)) {
      progress.finish();
      std::fprintf(stderr,
                   "train: the loss is %f at step %ld; stopping. The last good checkpoint (if "
                   "any) is untouched in %s. Try a lower --lr or --grad-clip.\n",
                   value, static_cast<long>(step + 1), run.dir().c_str());
      return 1;
    }
    if (s.grad_clip > 0) nn::clip_grad_norm(params, static_cast<float>(s.grad_clip));
    const float lr = schedule.lr(step);
    optimizer.set_lr(lr);
    optimizer.step();
    if (ema) ema->update(params);

    const int64_t done = step + 1;
    if (dp.root()) run.log_loss(done, value, lr, progress.seconds());
    progress.update(done, value);
    const bool last = done == s.steps;
    if (done % s.checkpoint_every == 0 || last || vote.stop) save(done);
    if (dp.root() && s.sample_every > 0 && (done % s.sample_every == 0 || last)) {
      std::optional<nn::EmaScope> with_ema;
      if (ema) with_ema.emplace(*ema, params);
      std::string what = preview.write(run, done);
      progress.message("step " + std::to_string(done) + ": " + what);
      model.train();
    }
    if (vote.stop && !last) {
      progress.finish();
      std::printf("interrupted after step %ld: checkpoint saved in %s; run the same command to "
                  "continue\n",
                  static_cast<long>(done), run.checkpoint().c_str());
      return 130;
    }
  }
  progress.finish();

  // ---- the final model: EMA weights (or the live ones), no optimizer state ----
  nn::Checkpoint final_model = make_checkpoint(s.steps);
  final_model.optimizer = nn::StateDict{};
  if (ema) {
    final_model.model.clear();
    for (const nn::NamedTensor& t : ema->shadow())
      final_model.model.push_back({t.name, t.tensor.to(Device::CPU)});
    final_model.ema = nn::StateDict{};
  }
  final_model.extras["weights"] = ema ? "ema" : "live";
  if (dp.root()) nn::save_checkpoint(final_model, run.model());
  std::printf("done: %ld steps in %s; model in %s\n", static_cast<long>(s.steps - start),
              format_duration(progress.seconds()).c_str(), run.model().c_str());
  return 0;
}

}  // namespace

int train(const TrainSettings& s) {
  validate(s);
  dist::Communicator& comm = dist::process_communicator();
  return run_on_every_rank(comm, [&] {
    DataParallel dp(comm, s.batch, s.threads);
    return train_rank(s, dp);
  });
}

}  // namespace mindiff::diffusion
