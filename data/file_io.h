// Whole-file byte I/O for the data layer: reading a file into memory, and writing one atomically
// (temporary file, flush, fsync, rename) so that a crash never leaves a half-written output.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mindiff {

// The whole file as bytes. Throws mindiff::Error naming `path` if it is missing, is not a
// regular file, or cannot be read completely.
std::vector<uint8_t> read_file(const std::string& path);

// Writes `bytes` to path + ".tmp", flushes and fsyncs it, then renames it over `path`. On any
// failure the temporary file is removed and an Error names the path (e.g. a missing or
// read-only folder).
void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size);
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace mindiff
