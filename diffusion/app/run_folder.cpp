#include "diffusion/app/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "data/file_io.h"
#include "data/plot.h"
#include "tensor/error.h"

namespace mindiff::diffusion {

namespace {

bool exists(const std::string& path, bool want_dir) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

void make_dir(const std::string& path) {
  if (exists(path, true)) return;
  // Create parents first, so --out runs/a/b works in a fresh clone.
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dir(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw Error("cannot create folder " + path + ": " + std::strerror(errno));
}

struct LossRow {
  int64_t step;
  double loss, lr, seconds;
};

std::vector<LossRow> read_rows(const std::string& path) {
  std::vector<LossRow> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    LossRow r{};
    if (std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf", &r.step, &r.loss, &r.lr, &r.seconds) == 4)
      rows.push_back(r);  // the header and a torn last line (a killed run) do not parse
  }
  return rows;
}

// Opens DIR/.lock and takes an exclusive flock on it without waiting; returns the descriptor,
// which holds the lock until it is closed. The holder writes its pid into the file, so that a
// refused process can name it.
int lock_folder(const std::string& dir) {
  const std::string path = dir + "/.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MD_CHECK(fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char text[32] = {0};
    const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
    ::close(fd);
    std::string holder = got > 0 ? std::string(text, static_cast<size_t>(got)) : "";
    holder = holder.substr(0, holder.find('\n'));
    MD_CHECK(err != EWOULDBLOCK, "--out ", dir, ": another train process",
             holder.empty() ? "" : " (pid " + holder + ")",
             " is writing this run folder; wait for it to finish, or choose another --out");
    throw Error("cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Without the pid the lock holds all the same; only a refused process's message is poorer.
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) errno = 0;
  return fd;
}

}  // namespace

RunFolder::RunFolder(std::string dir, bool create) : dir_(std::move(dir)) {
  MD_CHECK(!dir_.empty(), "--out: the run folder name is empty");
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (!create) return;
  MD_CHECK(!exists(dir_, false), "--out ", dir_, " is a file, not a folder");
  make_dir(dir_);
  lock_fd_ = lock_folder(dir_);
  make_dir(dir_ + "/samples");
}

RunFolder::~RunFolder() {
  if (csv_) std::fclose(csv_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string RunFolder::sample_png(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "/samples/step_%07ld.png", static_cast<long>(step));
  return dir_ + name;
}

bool RunFolder::has_checkpoint() const { return exists(checkpoint(), false); }

void RunFolder::open_loss_log(int64_t keep_through_step) {
  std::ostringstream kept;
  kept << "step,loss,lr,seconds\n";
  for (const LossRow& r : read_rows(loss_csv()))
    if (r.step <= keep_through_step) kept << r.step << "," << r.loss << "," << r.lr << "," << r.seconds << "\n";
  std::string text = kept.str();
  write_file_atomic(loss_csv(), reinterpret_cast<const uint8_t*>(text.data()), text.size());
  csv_ = std::fopen(loss_csv().c_str(), "a");
  MD_CHECK(csv_ != nullptr, "cannot open ", loss_csv(), " for appending: ", std::strerror(errno));
}

void RunFolder::log_loss(int64_t step, double loss, double lr, double seconds) {
  if (csv_) std::fprintf(csv_, "%ld,%.6g,%.6g,%.3f\n", static_cast<long>(step), loss, lr, seconds);
}

void RunFolder::flush_loss_log() {
  if (csv_) std::fflush(csv_);
}

void RunFolder::plot_loss() const {
  std::vector<LossRow> rows = read_rows(loss_csv());
  if (rows.size() < 2) return;
  // Plot a running mean over ~1% of the run on top of the raw values, on a log scale.
  std::vector<double> xs, ys, smooth;
  double lo = INFINITY, hi = 0;
  for (const LossRow& r : rows) {
    if (!(r.loss > 0) || !std::isfinite(r.loss)) continue;
    xs.push_back(static_cast<double>(r.step));
    ys.push_back(r.loss);
    lo = std::min(lo, r.loss);
    hi = std::max(hi, r.loss);
  }
  if (xs.size() < 2 || !(hi > lo)) return;
  const size_t window = std::max<size_t>(1, xs.size() / 100);
  double acc = 0;
  for (size_t i = 0; i < ys.size(); ++i) {
    acc += ys[i];
    if (i >= window) acc -= ys[i - window];
    smooth.push_back(acc / static_cast<double>(std::min(i + 1, window)));
  }
  Plot plot(640, 360, xs.front(), std::max(xs.back(), xs.front() + 1), lo * 0.9, hi * 1.1, true);
  plot.line(xs, ys, Rgb{180, 200, 230});
  plot.line(xs, smooth, Rgb{20, 60, 160});
  plot.write_png(loss_png());
}

std::string resolve_checkpoint(const std::string& path) {
  if (exists(path, false)) return path;
  if (exists(path, true)) {
    for (const char* name : {"/model.ckpt", "/checkpoint.ckpt"})
      if (exists(path + name, false)) return path + name;
    throw Error("--checkpoint " + path + ": the folder holds neither model.ckpt nor checkpoint.ckpt");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0)  // a device, a pipe, a socket
    throw Error("--checkpoint " + path + ": not a regular file or a folder");
  throw Error("--checkpoint " + path + ": " + std::strerror(errno));
}

}  // namespace mindiff::diffusion
