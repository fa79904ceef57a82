// A training run's folder (--out DIR) and what lives in it:
//   checkpoint.ckpt   the latest resumable state (weights, EMA, optimizer, step, data cursor)
//   model.ckpt        the final weights (EMA when used), without optimizer state: what to ship
//   settings.txt      the flags the run was started with
//   loss.csv          step,loss,lr,seconds for every step; loss.png its curve
//   samples/step_NNNNNNN.png   preview samples (a grid, or a scatter plot for 2-D data)
//   .lock             held (flock) by the train process writing the folder; holds its pid
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mindiff::diffusion {

class RunFolder {
 public:
  // Creates DIR and DIR/samples if needed and locks the folder for as long as this object
  // lives: a second process that opens the same folder is refused with an Error naming the
  // first one's pid, so two runs never write one folder. The kernel releases the lock when its
  // process ends, however it ends (SIGKILL included), so a lock never outlives its run. With
  // `create` false only names them (the ranks of a data-parallel run other than 0, which write
  // nothing and may run on other machines).
  explicit RunFolder(std::string dir, bool create = true);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& dir() const { return dir_; }
  std::string checkpoint() const { return dir_ + "/checkpoint.ckpt"; }
  std::string model() const { return dir_ + "/model.ckpt"; }
  std::string settings() const { return dir_ + "/settings.txt"; }
  std::string loss_csv() const { return dir_ + "/loss.csv"; }
  std::string loss_png() const { return dir_ + "/loss.png"; }
  std::string sample_png(int64_t step) const;
  bool has_checkpoint() const;

  // Opens loss.csv for appending, first dropping rows after `keep_through_step` (rows a killed
  // run wrote past its last checkpoint, which the resumed run will write again).
  void open_loss_log(int64_t keep_through_step);
  void log_loss(int64_t step, double loss, double lr, double seconds);
  void flush_loss_log();
  void plot_loss() const;  // loss.png from loss.csv (log scale)

 private:
  std::string dir_;
  int lock_fd_ = -1;
  std::FILE* csv_ = nullptr;
};

// Resolves what `sample --checkpoint` was given: a checkpoint file as is, or a run folder's
// model.ckpt (or checkpoint.ckpt when training has not finished). Errors name the path.
std::string resolve_checkpoint(const std::string& path);

}  // namespace mindiff::diffusion
