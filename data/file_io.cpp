// Whole-file byte I/O; see file_io.h.
#include "data/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace mindiff {

namespace fs = std::filesystem;

namespace {

// The folder holding `path` and the file's own name.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

bool process_gone(long pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

// Removes "<name>.tmp.<pid>" files in `dir` whose process no longer runs: what a writer killed
// between creating its temporary and renaming it leaves behind. Best effort: a temporary that
// cannot be listed or removed is only clutter, never a wrong result.
void remove_stale_temps(const std::string& dir, const std::string& name) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const std::string prefix = name + ".tmp.";
  while (const dirent* e = ::readdir(d)) {
    const std::string entry = e->d_name;
    if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = entry.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid != ::getpid() && process_gone(pid)) ::unlink((dir + "/" + entry).c_str());
  }
  ::closedir(d);
}

// fsync of a folder, so that a rename in it survives a crash. Best effort: some file systems
// refuse fsync on folders, and the data itself is already safe in the file.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  MD_CHECK(fs::exists(st), "cannot read '", path, "': no such file");
  MD_CHECK(fs::is_regular_file(st), "cannot read '", path, "': not a regular file");
  FILE* f = std::fopen(path.c_str(), "rb");
  MD_CHECK(f != nullptr, "cannot open '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes;
  // Read in chunks rather than trusting the size up front: simple and correct for pipes too.
  uint8_t chunk[1 << 16];
  size_t got;
  uintmax_t expect = fs::file_size(path, ec);
  if (!ec) bytes.reserve(static_cast<size_t>(expect));
  while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  MD_CHECK(!failed, "cannot read '", path, "': read error");
  return bytes;
}

std::string atomic_temp_path(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& fill) {
  const auto [dir, name] = split_path(path);
  remove_stale_temps(dir, name);
  const std::string tmp = atomic_temp_path(path);
  const std::string where = "cannot write '" + path + "': ";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  MD_CHECK(f != nullptr, where, "cannot create '", tmp, "': ", std::strerror(errno),
           " (is the folder missing or not writable?)");
  // From here on every failure removes the temporary before it throws.
  auto fail = [&](const std::string& reason) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw Error(where + reason + " ('" + path + "' is unchanged)");
  };
  try {
    std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
    fill(f);
  } catch (const std::exception& e) {  // write errors, and e.g. a tensor that cannot be read
    fail(e.what());
  }
  // fflush and fclose report the write errors that buffering deferred (ENOSPC among them); the
  // data must be on disk (fsync) before the rename publishes it.
  if (std::ferror(f) || std::fflush(f) != 0)
    fail("writing '" + tmp + "' failed: " + std::strerror(errno));
  if (::fsync(::fileno(f)) != 0) fail("fsync of '" + tmp + "' failed: " + std::strerror(errno));
  const int closed = std::fclose(f);
  f = nullptr;
  if (closed != 0) fail("closing '" + tmp + "' failed: " + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    fail("renaming '" + tmp + "' over it failed: " + std::strerror(errno));
  sync_directory(dir);
}

void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size) {
  write_file_atomic(path, [&](std::FILE* f) {
    if (size > 0 && std::fwrite(bytes, 1, size, f) != size)
      throw Error(std::string("write failed: ") + std::strerror(errno));
  });
}

}  // namespace mindiff
