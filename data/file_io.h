// Whole-file byte I/O: reading a file into memory, and the one routine that writes every file a
// user keeps (checkpoints, models, sample grids, .npy arrays, run-folder logs) atomically.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace mindiff {

// The whole file as bytes. Throws mindiff::Error naming `path` if it is missing, is not a
// regular file, or cannot be read completely.
std::vector<uint8_t> read_file(const std::string& path);

// Writes `path` atomically: `fill` writes the content to a temporary file next to it
// (atomic_temp_path), which is then flushed, fsynced, renamed over `path`, and its folder
// fsynced, so that a crash or a kill at any moment leaves either the old file or the new one,
// whole. On any failure (including an exception from `fill`) the temporary file is removed,
// `path` is untouched, and an Error names the path and the cause ("No space left on device", a
// missing or read-only folder, ...). Temporary files left next to `path` by writers that were
// killed before their rename (their process no longer runs) are removed first.
// The temporary's name holds the process id, so two processes writing the same path never
// share one; one process must not write the same path from two threads at once.
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& fill);
void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size);
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// "<path>.tmp.<process id>": where write_file_atomic puts the content before the rename.
std::string atomic_temp_path(const std::string& path);

}  // namespace mindiff
