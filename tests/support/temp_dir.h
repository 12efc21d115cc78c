// TempDir: a private folder for one test (mkdtemp's, mode 0700), removed with
// everything in it when the fixture that holds it goes: written once here for
// the unit suites that each made and removed their own.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace fastid::testing {

// $TMPDIR when set and not empty, else /tmp (for suites whose files may go
// wherever the run puts its temporary files; fuzz_replay_test sets it).
inline std::string tmpdir_or_tmp() {
  const char* t = ::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

class TempDir {
 public:
  // `prefix`: the folder's path up to mkdtemp's six random characters
  // ("/tmp/fastid-log-test." makes "/tmp/fastid-log-test.Ab12Cd").
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = prefix + "XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;  // a test that failed half-way may have left anything: never throw here
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The folder, or "" when mkdtemp failed (the fixture's SetUp asserts it is not).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace fastid::testing
