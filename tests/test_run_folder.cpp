// What keeps a run folder and every written file whole (diffusion/app/run_folder.h, data/file_io.h):
// the lock that lets one train process at a time write a folder, per-process temporary files and
// the removal of those a killed writer left behind, and what --checkpoint says about a path
// that is not a file. Each test failed before its fix (issue #17).
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/file_io.h"
#include "diffusion/app/run_folder.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

// Two train processes on one --out raced: one died renaming a temporary the other had renamed,
// or resumed from the other's live checkpoint, and loss.csv lost rows. The second RunFolder on a
// folder is refused, naming the first one's pid, until the first one is gone.
TEST(RunFolder, OneWriterAtATime) {
  test::TempDir dir;
  const std::string out = dir.file("run");
  {
    diffusion::RunFolder first(out);
    expect_error([&] { diffusion::RunFolder second(out); },
                 {"--out " + out, "another train process", "pid " + std::to_string(::getpid())});
    diffusion::RunFolder reader(out, /*create=*/false);  // the other ranks of a run take no lock
  }
  diffusion::RunFolder again(out);  // the first one has let go
}

// A process that has exited: its pid names no running process (until the system reuses it).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// A SIGKILL inside a checkpoint write left its temporary file behind for good. Temporaries now
// carry their writer's pid; the next write of the same file removes those of writers that are
// gone, and leaves a running writer's and unrelated files alone.
TEST(AtomicWrite, RemovesTemporariesOfWritersThatAreGone) {
  test::TempDir dir;
  const std::string path = dir.file("checkpoint.ckpt");
  const std::string stale = path + ".tmp." + std::to_string(dead_pid());
  const std::string live = path + ".tmp.1";  // pid 1 always runs
  for (const std::string& f : {stale, live, path + ".tmp", dir.file("other.ckpt.tmp.99999999")})
    std::ofstream(f) << "half a checkpoint";
  write_file_atomic(path, {1, 2, 3});
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(path + ".tmp"));  // not a name this writer makes: left alone
  EXPECT_TRUE(fs::exists(dir.file("other.ckpt.tmp.99999999")));
  EXPECT_FALSE(fs::exists(atomic_temp_path(path)));
  EXPECT_EQ(fs::file_size(path), 3u);
}

// `--checkpoint /dev/null` said "no such file or folder".
TEST(RunFolder, CheckpointPathsThatAreNotFilesAreNamedAsSuch) {
  expect_error([] { diffusion::resolve_checkpoint("/dev/null"); },
               {"/dev/null", "not a regular file or a folder"});
  expect_error([] { diffusion::resolve_checkpoint("/nonexistent/x.ckpt"); },
               {"/nonexistent/x.ckpt", "No such file or directory"});
  test::TempDir dir;
  expect_error([&] { diffusion::resolve_checkpoint(dir.path); },
               {dir.path, "neither model.ckpt nor checkpoint.ckpt"});
}

}  // namespace
}  // namespace mindiff
