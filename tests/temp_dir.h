// The test suite's one temporary-folder helper: a fresh folder (/tmp/mindiff_<tag>_XXXXXX),
// removed with everything in it when the object goes. (There used to be two classes of this name
// in two headers; linked into one binary, one's destructor ran on the other's objects.)
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace mindiff::test {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "test") {
    namespace fs = std::filesystem;
    std::string tmpl = (fs::temp_directory_path() / ("mindiff_" + tag + "_XXXXXX")).string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

}  // namespace mindiff::test
