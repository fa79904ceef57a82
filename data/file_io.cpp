// Whole-file byte I/O; see file_io.h.
#include "data/file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <unistd.h>  // fsync, fileno

#include "tensor/error.h"

namespace mindiff {

namespace fs = std::filesystem;

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

void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  MD_CHECK(f != nullptr, "cannot write '", path, "': cannot create '", tmp, "': ",
           std::strerror(errno), " (is the folder missing or not writable?)");
  bool ok = size == 0 || std::fwrite(bytes, 1, size, f) == size;
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(fileno(f)) == 0 && ok;  // the data must be on disk before the rename publishes it
  int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    MD_CHECK(false, "cannot write '", path, "': writing '", tmp, "' failed: ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    MD_CHECK(false, "cannot write '", path, "': rename from '", tmp, "' failed: ",
             std::strerror(err));
  }
}

}  // namespace mindiff
