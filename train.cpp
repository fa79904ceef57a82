// train: trains a diffusion model and keeps everything in a run folder (--out).
//
//   ./train                                   # the small U-Net on Fashion-MNIST
//   ./train --data gmm8 --steps 3000 --out runs/gmm8
//   ./train --data folder:~/pictures --image-size 32 --config "small base=64"
//   ./train --model classifier --out models/classifier.ckpt   # the CNN that `sample --score` uses
//
// Rerunning the same command resumes from the folder's last checkpoint. Every setting, its
// default and its help are in diffusion/app/train_settings.h (and `./train --help`).
//
// The recipe below is the whole of training. What it calls:
//   the loss            diffusion/objectives.h (times, noise, x_t, the network, the regression)
//   the network         diffusion/network.h (a U-Net for images, an MLP for points)
//   checkpoints         diffusion/app/training_run.h (resume, save, the final model)
//   several processes   diffusion/app/data_parallel.h (mpirun: each takes a share of the batch)
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <optional>

#include "data/loader.h"
#include "diffusion/app/classifier_command.h"
#include "diffusion/app/data_parallel.h"
#include "diffusion/app/preview.h"
#include "diffusion/app/progress.h"
#include "diffusion/app/step_losses.h"
#include "diffusion/app/train_settings.h"
#include "diffusion/app/training_run.h"
#include "diffusion/network.h"
#include "nn/grad_sync.h"
#include "nn/nccl_communicator.h"
#include "nn/schedule.h"
#include "tensor/device_backend.h"
#include "tensor/precision.h"

namespace mindiff::diffusion {

// On a GPU the loop reads its losses every this many steps (step_losses.h): one wait for the
// device per 10 steps instead of one per step, while the progress bar still moves about twice a
// second at the small U-Net's ~50 ms a step.
constexpr int64_t kDeviceStepsPerLossRead = 10;

// One process's part of the run (all of it without mpirun).
int train_diffusion(const TrainSettings& s, DataParallel& dp) {
  const Device device = parse_device("device", s.device);

  // ---- the data ----
  const Dataset data = open_training_data(s);
  const int64_t classes = s.conditional ? data.num_classes : 0;

  // ---- the network, the forward process and the objective ----
  const std::string config = DiffusionNet::config_for_data(s.config, data.sample_shape(), classes);
  Generator init(static_cast<uint64_t>(s.seed));
  const std::shared_ptr<DiffusionNet> net = DiffusionNet::build(config, init);
  nn::Module& model = net->module();
  if (device == Device::CUDA && dp.world_size() > 1) dist::use_local_gpu(dp.comm());
  model.to(device);  // first: the optimizer and the EMA make their state where the weights are
  const std::shared_ptr<Process> process = make_process(s.schedule);
  const Objective objective = training_objective(s, *process);

  // ---- the optimizer, the moving average of the weights, the learning-rate schedule ----
  const std::vector<Tensor> params = model.parameters();
  nn::AdamW optimizer(params, adam_options(s));
  std::unique_ptr<nn::Ema> ema;
  if (s.ema_decay > 0)
    ema = std::make_unique<nn::Ema>(model.named_parameters(), nn::EmaOptions{s.ema_decay, true});
  const nn::LrSchedule schedule = nn::LrSchedule::warmup_cosine(
      static_cast<float>(s.lr), static_cast<float>(s.min_lr), std::min(s.warmup, s.steps), s.steps);
  DataLoader loader(data, loader_options(s, dp));

  // ---- the run folder: resume from its checkpoint, or start a new run ----
  RunFolder run(s.out, /*create=*/dp.root());
  RunCheckpoints checkpoints(run, dp, {model.named_parameters(), optimizer, ema.get(), loader},
                             config, resume_identity(s, config), settings_record(s),
                             data.class_names, device);
  const int64_t end = s.stop_at > 0 ? s.stop_at : s.steps;  // the schedule still runs to --steps
  const int64_t start = checkpoints.resume_or_start(end);
  if (start == 0) announce_new_run(config, model.num_parameters(), data, run);
  dist::GradientSync grad_sync(dp.comm(), params);
  grad_sync.broadcast_parameters();  // every rank starts from rank 0's weights
  if (dp.root()) run.open_loss_log(start);
  const Preview preview(*net, process, objective.kind, data, s.conditional, s.preview_sampler,
                        static_cast<int>(s.preview_steps), s.preview_n,
                        static_cast<uint64_t>(s.seed));

  // ---- the loop ----
  const StopSignals stop;
  Progress progress(start, end, s.log_every);
  StepLosses losses(device == Device::CPU ? 1 : kDeviceStepsPerLossRead);
  model.train();
  for (int64_t step = start; step < end; ++step) {
    const int64_t done = step + 1;
    const bool last = done == end;
    const Batch batch = loader.next_batch();
    // All of step k's noise (times, z, label dropout) comes from the key (seed, k).
    Generator gen(step_key(static_cast<uint64_t>(s.seed), step)), dropout;
    const std::vector<int64_t> labels = s.conditional ? batch.labels : std::vector<int64_t>{};
    Tensor loss = diffusion_loss(net->model_fn(dp.dropout_generator(gen, dropout)),
                                 batch.images.to(device), labels, *process, objective, gen,
                                 dp.shard());
    optimizer.zero_grad();
    loss.backward();
    grad_sync.average_gradients();
    const float lr = schedule.lr(step);
    losses.add(done, loss, lr, progress.seconds());  // kept where it is; read below

    // ---- what this step ends with, decided alike on every rank ----
    const bool stop_now = dp.agree_stop(stop.requested());
    const bool save = done % s.checkpoint_every == 0 || last || stop_now;
    const bool show = s.sample_every > 0 && (done % s.sample_every == 0 || last);
    // Read the kept losses (one copy from the device) before anything that must see good weights:
    // a NaN or infinite loss stops the run before its weights are saved or previewed.
    if (losses.due(done) || done % s.log_every == 0 || save || show) {
      std::vector<StepLoss> read = losses.read();
      dp.average_losses(read);
      for (const StepLoss& r : read) {
        if (!std::isfinite(r.loss)) return report_non_finite_loss(r.loss, r.step, run, progress);
        if (dp.root()) run.log_loss(r.step, r.loss, r.lr, r.seconds);
        progress.update(r.step, r.loss);
      }
    }

    // ---- the update ----
    if (s.grad_clip > 0) nn::clip_grad_norm_in_place(params, static_cast<float>(s.grad_clip));
    optimizer.set_lr(lr);
    optimizer.step();
    if (ema) ema->update(params);

    // ---- checkpoint, preview ----
    if (save) checkpoints.save(done);
    if (dp.root() && show) {
      std::optional<nn::EmaScope> with_ema;  // previews show the EMA weights
      if (ema) with_ema.emplace(*ema, params);
      progress.message("step " + std::to_string(done) + ": " + preview.write(run, done));
      model.train();
    }
    if (stop_now && !last) return report_interrupted(done, run, progress);
  }
  progress.finish();

  // ---- the final model: the EMA weights (or the live ones), no optimizer state ----
  checkpoints.save_final_model(end);
  std::printf("done: %ld steps in %s; model in %s\n", static_cast<long>(end - start),
              format_duration(progress.seconds()).c_str(), run.model().c_str());
  return 0;
}

int train(const TrainSettings& s) {
  const Device device = parse_device("device", s.device);
  if (device == Device::CUDA) {  // no usable GPU: say so, exit 2
    cuda::require_available("--device cuda");
    set_cuda_precision(parse_run_precision(s.precision, device));
    std::printf("device: %s, %s\n", cuda::device_description().c_str(), s.precision.c_str());
  }
  dist::Communicator& comm = dist::process_communicator();
  return run_on_every_rank(comm, [&] {
    DataParallel dp(comm, s.batch, static_cast<int>(s.threads));
    if (dp.threads() > 0) omp_set_num_threads(dp.threads());
    return train_diffusion(s, dp);
  });
}

}  // namespace mindiff::diffusion

// The test suite links this file's recipe without its main, to train on the emulated GPU.
#ifndef MINDIFF_TRAIN_RECIPE_ONLY
int main(int argc, char** argv) {
  using namespace mindiff;
  try {
    diffusion::TrainSettings s;
    if (!diffusion::parse_train_settings(argc, argv, s)) return 0;  // --help
    if (s.model == "classifier") {
      MD_CHECK(dist::launcher_world_size() <= 1, "--model classifier trains in one process; run "
               "it without mpirun");
      return diffusion::train_classifier_command(s);
    }
    return diffusion::train(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 2;
  }
}
#endif
