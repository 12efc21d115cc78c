// A private winbindd for gtest: tests/winbind/winbind-fixture driven from C++.
// Winbindd makes a temporary folder, starts a standalone Samba winbindd with
// its own local SAM there (users wbuser001.., groups wbgroup01.., the special
// accounts wbdisabled, wbexpired, wbmustchange; password "pw-<name>"), and
// stops it and samba-dcerpcd by pid and removes the folder when destroyed.
//
// libwbclient (in the provider, in wbinfo) has /run/samba/winbindd compiled
// in. bind_winbindd_socket() gives the calling process — and every process it
// starts afterwards, fastidd included — a private mount namespace where the
// fixture's socket folder is /run/samba/winbindd; the host's /run/samba is
// never touched. Call it before any thread exists (unshare(CLONE_NEWNS)
// refuses a process whose threads share its filesystem context). Needs root.
//
//   fastid::testing::Winbindd wb({.users = 50, .groups = 10, .expand_groups = 0});
//   ASSERT_TRUE(wb.started()) << wb.error();
//   ASSERT_EQ(fastid::testing::bind_winbindd_socket(wb.socket_dir()), "");
//
// Needs FASTID_SOURCE_DIR (the tree with tests/winbind). Not thread-safe.
#pragma once

#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace fastid::testing {

class Winbindd {
 public:
  struct Options {
    int users = 50;
    int groups = 10;
    int expand_groups = 0;  // smb.conf `winbind expand groups`
  };

  Winbindd() : Winbindd(Options{}) {}
  explicit Winbindd(Options options) : options_(options) {
    char tmpl[] = "/tmp/fastid-winbind-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    if (made == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = made;
    started_ = command(script() + " start " + dir_ + " --users " + std::to_string(options.users) +
                       " --groups " + std::to_string(options.groups) + " --expand-groups " +
                       std::to_string(options.expand_groups));
  }
  ~Winbindd() {
    if (dir_.empty()) return;
    command(script() + " stop " + dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Winbindd(const Winbindd&) = delete;
  Winbindd& operator=(const Winbindd&) = delete;

  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }
  std::string socket_dir() const { return dir_ + "/sock"; }
  const Options& options() const { return options_; }

  // Stops winbindd and samba-dcerpcd (by pid) / starts winbindd again on the same data.
  bool stop() { return command(script() + " stop " + dir_); }
  bool restart() { return command(script() + " restart " + dir_); }

  // A Samba tool against the fixture (`wbinfo -r 'WBTEST\wbuser001'`):
  // its stdout, and its exit code in *code when given. Args are shell words.
  std::string tool(const std::string& args, int* code = nullptr) const {
    std::string out;
    FILE* p = ::popen((script() + " run " + dir_ + " " + args + " 2>/dev/null").c_str(), "r");
    if (p == nullptr) return out;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    if (code != nullptr) *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

  static std::string user(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "wbuser%03d", i);
    return buf;
  }
  static std::string group(int g) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "wbgroup%02d", g);
    return buf;
  }
  static std::string password_of(const std::string& user) { return "pw-" + user; }
  static constexpr const char* kDomain = "WBTEST";

 private:
  static std::string script() { return std::string(FASTID_SOURCE_DIR) + "/tests/winbind/winbind-fixture"; }

  bool command(const std::string& cmd) {
    const std::string log = (dir_.empty() ? std::string("/tmp") : dir_) + "/fixture.out";
    if (std::system((cmd + " >" + log + " 2>&1").c_str()) == 0) return true;
    std::ifstream in(log);
    error_ = cmd + " failed: " + std::string(std::istreambuf_iterator<char>(in), {});
    return false;
  }

  Options options_;
  std::string dir_;
  std::string error_;
  bool started_ = false;
};

// See the file comment. "" on success, else what failed. The namespace's
// /run/samba (or /run when the host has no /run/samba) is a fresh tmpfs, so
// the mount point is made there, never on the host.
inline std::string bind_winbindd_socket(const std::string& socket_dir) {
  auto fail = [](const std::string& what) { return what + ": " + std::strerror(errno); };
  if (::unshare(CLONE_NEWNS) != 0) return fail("unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("making / private");
  struct stat st{};
  const char* over = ::stat("/run/samba", &st) == 0 ? "/run/samba" : "/run";
  if (::mount("tmpfs", over, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    return fail(std::string("tmpfs on ") + over);
  }
  std::error_code ec;
  std::filesystem::create_directories("/run/samba/winbindd", ec);
  if (ec) return "mkdir /run/samba/winbindd: " + ec.message();
  if (::mount(socket_dir.c_str(), "/run/samba/winbindd", nullptr, MS_BIND, nullptr) != 0) {
    return fail("bind " + socket_dir + " on /run/samba/winbindd");
  }
  return "";
}

}  // namespace fastid::testing
