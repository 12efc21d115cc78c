// Tools for doing storage faults for real in system tests, and for counting
// what a daemon answered through them: lookups of the dataset's users through
// getent (each answer checked), nss_stress runs tallied (a crash counted, not
// fatal), garbage and truncation in place, a disk filled to the last byte,
// and a private mount namespace for this test process (a small tmpfs, a
// read-only bind) that leaves the host's mounts alone. Needs root for mounts.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// How many lines of `text` contain `what`.
inline long count_lines(const std::string& text, const std::string& what) {
  long n = 0;
  for (const auto& line : split(text, '\n')) n += line.find(what) != std::string::npos ? 1 : 0;
  return n;
}

// `n` random bytes from `seed`.
inline std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// Writes `bytes` at `offset` of an existing file, in place (the file is not
// replaced: whoever maps it sees the change), as a broken disk or a stray
// `dd` would.
inline void overwrite_in_place(const std::string& path, std::size_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
}

// Writes zeros to `path` until the file system refuses (ENOSPC); returns the
// bytes written.
inline long fill_until_full(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const std::string block(65536, '\0');
  long total = 0;
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) break;
    total += n;
  }
  ::close(fd);
  return total;
}

// Lookups of users user{from} .. user{to - 1} through glibc (getent, one
// process), each line checked against the dataset. `env`: the client's
// environment prefix, d.env() when empty.
struct LookupTally {
  int asked = 0, right = 0, wrong = 0, failed = 0;
  std::string first_problem;
  LookupTally& operator+=(const LookupTally& o) {
    asked += o.asked;
    right += o.right;
    wrong += o.wrong;
    failed += o.failed;
    if (first_problem.empty()) first_problem = o.first_problem;
    return *this;
  }
};

inline std::string user_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "user%05d", i);
  return buf;
}

inline LookupTally look_up_users(const Daemon& d, int from, int to, const std::string& env = "") {
  LookupTally t;
  std::string names;
  for (int i = from; i < to; ++i) names += " " + user_name(i);
  const auto r = run((env.empty() ? d.env() : env) + "getent -s fastid passwd" + names + " 2>&1");
  std::set<std::string> answered;
  for (const auto& line : split(r.out, '\n')) {
    if (line.empty()) continue;
    const std::string name = line.substr(0, line.find(':'));
    const auto want = d.dataset.passwd_by_name.find(name);
    if (want != d.dataset.passwd_by_name.end() && want->second == line) {
      answered.insert(name);
    } else {
      ++t.wrong;
      if (t.first_problem.empty()) t.first_problem = "wrong answer: " + line;
    }
  }
  t.asked = to - from;
  t.right = static_cast<int>(answered.size());
  t.failed = t.asked - t.right - t.wrong;
  if (t.failed > 0 && t.first_problem.empty())
    t.first_problem = "getent exit " + std::to_string(r.exit_code) + ", " + std::to_string(t.failed) + " not answered";
  return t;
}

// nss_stress runs (tests/system/nss_stress.c) added up; a run that died of a
// signal is a crash.
struct NssStressTally {
  long lookups = 0, mismatch = 0, notfound = 0, error = 0;
  int runs = 0, crashes = 0;
  std::string first_output;
  NssStressTally& operator+=(const NssStressTally& o) {
    lookups += o.lookups;
    mismatch += o.mismatch;
    notfound += o.notfound;
    error += o.error;
    runs += o.runs;
    crashes += o.crashes;
    if (first_output.empty()) first_output = o.first_output;
    return *this;
  }
};

inline long field_of(const std::string& out, const std::string& key) {
  const auto at = out.find(" " + key + "=");
  return at == std::string::npos ? -1 : std::atol(out.c_str() + at + key.size() + 2);
}

// `command` is the nss_stress command line without redirections.
inline NssStressTally nss_stress(const std::string& command) {
  NssStressTally t;
  const auto r = run(command + " 2>&1");
  t.runs = 1;
  t.crashes = r.exit_code >= 128 ? 1 : 0;
  t.lookups = std::max(0L, field_of(r.out, "lookups"));
  t.mismatch = std::max(0L, field_of(r.out, "mismatch"));
  t.notfound = std::max(0L, field_of(r.out, "notfound"));
  t.error = std::max(0L, field_of(r.out, "error"));
  if (r.exit_code != 0) t.first_output = "exit " + std::to_string(r.exit_code) + ": " + r.out;
  return t;
}

// This test process in a mount namespace of its own (unshare(CLONE_NEWNS),
// every mount made private), so that what it mounts is seen by it and the
// daemons it starts and by nobody else. Stays for the rest of the process:
// later tests see the same mounts as the host.
class PrivateMounts {
 public:
  PrivateMounts() {
    static bool unshared = false;
    if (!unshared) {
      if (::unshare(CLONE_NEWNS) != 0) {
        error_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
        return;
      }
      if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        error_ = std::string("make / private: ") + std::strerror(errno);
        return;
      }
      unshared = true;
    }
    ok_ = true;
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  bool mount_tmpfs(const std::string& at, const std::string& size) {
    const std::string opts = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", at.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
      return fail("mount tmpfs on " + at);
    return true;
  }
  bool bind_read_only(const std::string& dir) {
    if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return fail("bind " + dir);
    if (::mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      return fail("remount " + dir + " read-only");
    return true;
  }
  void unmount(const std::string& at) { (void)::umount2(at.c_str(), MNT_DETACH); }

 private:
  bool fail(const std::string& what) {
    error_ = what + ": " + std::strerror(errno);
    return false;
  }
  bool ok_ = false;
  std::string error_;
};

}  // namespace fastid::testing
