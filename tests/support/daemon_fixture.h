// A real fastidd for system tests: a private temporary folder with a generated
// dataset and a config, the daemon started from build/bin and stopped (and the
// folder removed) at the end. Helpers run real programs (getent, the glibc
// test programs) against it with LD_LIBRARY_PATH and FASTID_SOCKET_DIR set.
//
// `make valgrind` (tests/valgrind/run-valgrind) runs these tests with three
// environment variables this fixture honours (none is set in `make test`):
//   FASTID_TEST_WRAPPER         words put before fastidd's command line
//                               ("valgrind --tool=memcheck ..."); `{dir}` in
//                               them is replaced by the test's folder
//   FASTID_TEST_CLIENT_WRAPPER  the same before getent and pamtester
//   FASTID_TEST_TIME_SCALE      an integer: every wait of this fixture
//                               (start, wait_until) is that many times longer
// A valgrind error (its --error-markers) in a log under the test's folder
// fails the test like a sanitizer report does.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/time_scale.h"

#include "support/dataset.h"
#include "support/text.h"

namespace fastid::testing {

namespace fs = std::filesystem;

inline std::string bin_dir() { return FASTID_BIN_DIR; }
inline std::string lib_dir() { return FASTID_LIB_DIR; }
inline std::string source_dir() { return FASTID_SOURCE_DIR; }

struct CommandResult {
  int exit_code = -1;
  std::string out;
  double seconds = 0;
};

// Runs `command` through /bin/sh, capturing stdout (stderr goes to ours).
inline CommandResult run(const std::string& command) {
  CommandResult r;
  auto start = std::chrono::steady_clock::now();
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The words of a wrapper variable, `{dir}` replaced by `dir`, each followed by a space.
inline std::string wrapper_prefix(const char* variable, const std::string& dir) {
  const char* v = ::getenv(variable);
  std::string out = v != nullptr ? v : "";
  for (auto at = out.find("{dir}"); at != std::string::npos; at = out.find("{dir}", at + dir.size())) {
    out.replace(at, 5, dir);
  }
  return out.empty() ? out : out + " ";
}

// Polls `condition` every 20 ms until it holds (true) or `limit` has passed
// (false, after one last look). What tests wait for is a state, never a time:
// the limit only bounds a failure, so it is wide enough for a loaded machine
// with a sanitizer build and costs nothing when the state comes at once.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + limit * time_scale();
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Every process whose parent chain leads to `root` (not `root` itself): the
// workers of a running daemon, from /proc.
inline std::set<pid_t> descendants(pid_t root) {
  std::map<pid_t, pid_t> parent;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    std::string stat = read_file("/proc/" + std::string(e->d_name) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    parent[pid] = ppid;
  }
  ::closedir(proc);
  std::set<pid_t> out;
  for (auto [pid, ppid] : parent) {
    for (pid_t p = ppid; p > 1; p = parent.count(p) ? parent[p] : 0) {
      if (p == root) {
        out.insert(pid);
        break;
      }
    }
  }
  return out;
}

// The descendants of `root` whose program (argv[0]) contains `program`:
// e.g. a daemon's provider workers ("fastid-provider-worker").
inline std::set<pid_t> descendants_running(pid_t root, const std::string& program) {
  std::set<pid_t> out;
  for (pid_t pid : descendants(root)) {
    const std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    if (argv0.find(program) != std::string::npos) out.insert(pid);
  }
  return out;
}

// The "Uid:" line of /proc/PID/status (real, effective, saved, fs).
inline std::string uid_line(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Uid:", 0) == 0) return line;
  }
  return "";
}

class Daemon {
 public:
  // Makes the folder and dataset; does not start anything.
  explicit Daemon(int users = 10000, int groups = 1000) {
    char tmpl[] = "/tmp/fastid-systest-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::create_directories(dir_ + "/data");
    std::string cmd = source_dir() + "/scripts/gen-dataset " + dir_ + "/data " +
                      std::to_string(users) + " " + std::to_string(groups) + " 3";
    if (std::system(cmd.c_str()) != 0) std::abort();
    dataset.load(dir_ + "/data");
    write_config(default_config_text());
  }

  ~Daemon() {
    stop(SIGKILL);
    // A sanitizer report from fastidd, its workers or a client the test ran
    // through env() fails the test that caused it (the process may have
    // survived it, or the test may not have looked at its exit).
    if (const std::string reports = sanitizer_reports(); !reports.empty()) {
      ADD_FAILURE() << "sanitizer reports from the processes of this test:\n" << reports;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string default_config_text() const {
    return "[daemon]\nsocket_dir = \"" + dir_ + "/run\"\nstate_dir = \"" + dir_ +
           "/state\"\nlog_level = \"info\"\n\n[[provider]]\nname = \"test\"\ntype = \"files\"\n"
           "passwd = \"" + dir_ + "/data/passwd\"\ngroup = \"" + dir_ + "/data/group\"\n"
           "refresh_interval = \"200ms\"\n";
  }

  void write_config(const std::string& text) { write_file(config_path(), text); }

  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/fastid.toml"; }
  std::string socket_dir() const { return dir_ + "/run"; }
  std::string cache_dir() const { return dir_ + "/state/mc"; }
  std::string log_path() const { return dir_ + "/fastidd.log"; }
  std::string log() const { return read_file(log_path()); }
  pid_t pid() const { return pid_; }
  // The port a `[listen] tcp = ["127.0.0.1:0"]` listener got, from the
  // daemon's log line; -1 before that line is written.
  int tcp_port() const {
    const std::string marker = "listening on tcp 127.0.0.1:";
    const std::string text = log();
    auto at = text.find(marker);
    return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + marker.size());
  }

  // Starts fastidd in the foreground (a child of the test) and waits until
  // its socket answers. Returns false if it exited or did not answer in 10 s.
  // `just_started`, when given, runs in the test right after the fork (with
  // the daemon's pid), before the wait: for tests that act during the start.
  bool start(const std::vector<std::string>& extra_args = {},
             const std::function<void(pid_t)>& just_started = {}) {
    launch(extra_args);
    if (just_started) just_started(pid_);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10) * time_scale();
    while (std::chrono::steady_clock::now() < until) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (answers()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Starts fastidd in the foreground and returns at once, without waiting
  // for its socket (for tests of what it reports while starting).
  void launch(const std::vector<std::string>& extra_args = {}) {
    const pid_t test = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // fastidd dies with the test, even when an assertion or ctest's
      // timeout ends the test before ~Daemon runs.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != test) ::_exit(127);
      set_sanitizer_log("fastidd");
      for (const auto& [name, value] : daemon_environment) ::setenv(name.c_str(), value.c_str(), 1);
      std::string log = log_path();
      std::vector<std::string> args = split(wrapper_prefix("FASTID_TEST_WRAPPER", dir_), ' ');
      std::erase(args, std::string());
      args.insert(args.end(), {bin_dir() + "/fastidd", "--config", config_path(), "--log-file", log});
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }

  // Sends `sig` and waits for the exit; returns the exit status as from
  // waitpid (or -1 if it was not running).
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // Waits up to `limit` for the daemon to exit by itself; returns its status
  // as from waitpid, or -1 if it is still running (then still ours to stop).
  int wait_exit(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return -1;
    auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= until) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return status;
  }

  // Every socket the daemon opens accepts connections. The pam socket is
  // opened last: a test that waited for nss alone could connect to pam
  // between its bind and its listen (ECONNREFUSED).
  bool answers() const {
    for (const char* name : {"/nss", "/pam"}) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::string path = socket_dir() + name;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
      bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
      if (!ok) return false;
    }
    return true;
  }

  // The environment prefix that points glibc and libfastid at this daemon.
  // In a sanitizer build the module needs its runtime preloaded into the
  // uninstrumented program that loads it (getent).
  std::string env() const {
    std::string e = "LD_LIBRARY_PATH=" + lib_dir() + " FASTID_SOCKET_DIR=" + socket_dir() +
                    " FASTID_CACHE_DIR=" + cache_dir() + " ";
#ifdef FASTID_ASAN_RUNTIME
    e += "LD_PRELOAD=" FASTID_ASAN_RUNTIME " ASAN_OPTIONS=detect_leaks=0:log_path=" + dir_ + "/sanitizer-client ";
#endif
    e += "UBSAN_OPTIONS=print_stacktrace=1:log_path=" + dir_ + "/sanitizer-client ";
    return e;
  }

  // What the sanitizers reported in this test's processes (their log_path
  // files under dir()), "" when nothing. Only reports count: an error, a
  // leak, a data race, undefined behaviour.
  std::string sanitizer_reports() const {
    std::string out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("sanitizer-", 0) != 0) continue;
      const std::string text = read_file(e.path().string());
      for (const char* mark : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer: detected", "runtime error:",
                               "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer", "VALGRIND-ERROR-BEGIN"}) {
        if (text.find(mark) != std::string::npos) {
          out += "== " + name + " ==\n" + text + "\n";
          break;
        }
      }
    }
    return out;
  }

  // The daemon's own request counter ("requests" in `fastid status`; exact
  // with one worker, the default), or -1. The status request counts itself.
  long requests_served() const {
    auto st = run("FASTID_SOCKET_DIR=" + socket_dir() + " " + bin_dir() + "/fastid status");
    std::istringstream in(st.out);
    for (std::string line; std::getline(in, line);) {
      auto f = split(line, ' ');
      if (!f.empty() && f[0] == "requests") return std::stol(f.back());
    }
    return -1;
  }

  CommandResult getent(const std::string& args) const {
    return run(env() + client_wrapper() + "getent -s fastid " + args + " 2>&1");
  }

  // `fastid status` as root, or as `uid` (setpriv) when it is not 0.
  CommandResult status(int uid = 0) const {
    std::string drop;
    if (uid != 0) {
      drop = "setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(uid) +
             " --clear-groups ";
    }
    return run(drop + "env FASTID_SOCKET_DIR=" + socket_dir() + " " + bin_dir() + "/fastid status 2>&1");
  }

  // One value of `fastid status` (as root), "" when the key is not there.
  std::string status_value(const std::string& key) const {
    const std::string out = "\n" + status().out;
    auto at = out.find("\n" + key + " ");
    if (at == std::string::npos) return "";
    auto v = out.find_first_not_of(' ', at + key.size() + 1);
    return out.substr(v, out.find('\n', v) - v);
  }

  // One number of `fastid status` (as root), -1 when the key is not there.
  long status_figure(const std::string& key) const {
    const std::string v = status_value(key);
    return v.empty() ? -1 : std::stol(v);
  }

  // FASTID_TEST_CLIENT_WRAPPER's words for this test ("" in `make test`).
  std::string client_wrapper() const { return wrapper_prefix("FASTID_TEST_CLIENT_WRAPPER", dir_); }

  Dataset dataset;
  // More environment for fastidd (and so its workers), set in the child
  // before exec, after the sanitizers' log paths: e.g. an LD_PRELOAD.
  std::map<std::string, std::string> daemon_environment;

 private:
  // In the child before exec: the sanitizers write to dir()/sanitizer-WHO.PID
  // (read by sanitizer_reports) instead of the test's stderr, keeping any
  // options the test run was given.
  void set_sanitizer_log(const char* who) const {
    for (const char* var : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"}) {
      const char* old = ::getenv(var);
      std::string v = old != nullptr && *old != '\0' ? std::string(old) + ":" : std::string();
      if (std::string(var) == "UBSAN_OPTIONS") v += "print_stacktrace=1:";
      v += "log_path=" + dir_ + "/sanitizer-" + who;
      ::setenv(var, v.c_str(), 1);
    }
  }

  std::string dir_;
  pid_t pid_ = -1;
};

// PAM through real libpam: set_up_pam() writes d.dir()/pam.d/SERVICE
// (pam_fastid.so for auth and account, on the daemon's pam socket) and
// d.dir()/nsswitch.conf (passwd and group: files fastid); pamtester() runs
// pamtester in a private mount namespace where both are bound over /etc's —
// the host's files are never touched. Needs root (unshare -m).
inline void set_up_pam(const Daemon& d, const std::string& service) {
  fs::create_directories(d.dir() + "/pam.d");
  const std::string module = lib_dir() + "/pam_fastid.so socket=" + d.socket_dir() + "/pam";
  write_file(d.dir() + "/pam.d/" + service, "auth required " + module + "\naccount required " + module + "\n");
  write_file(d.dir() + "/nsswitch.conf", "passwd: files fastid\ngroup: files fastid\n");
}

// Runs `program` (pamtester, pam_driver, fastid) in a private mount namespace
// where /etc/pam.d and /etc/nsswitch.conf are d.dir()'s (set_up_pam), with
// the daemon's environment, as root or as `uid` (setpriv; its gid the same
// number, no supplementary groups) and in a session of its own (setsid: no
// controlling terminal, so nothing reads /dev/tty); `input` is its stdin.
// Output is stdout and stderr together.
inline CommandResult in_pam_namespace(const Daemon& d, const std::string& program, const std::string& input,
                                      int uid = 0) {
  static std::atomic<int> calls{0};  // one stdin file per call: calls may run at once
  const std::string in = d.dir() + "/stdin." + std::to_string(calls.fetch_add(1));
  write_file(in, input);
  std::string drop;
  if (uid != 0) {
    drop = "setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(uid) + " --clear-groups ";
  }
  const std::string inner = "mount --bind " + d.dir() + "/pam.d /etc/pam.d && mount --bind " + d.dir() +
                            "/nsswitch.conf /etc/nsswitch.conf && exec " + drop + "env " + d.env() + program;
  CommandResult r = run("setsid -w unshare -m sh -c '" + inner + "' < " + in + " 2>&1");
  ::unlink(in.c_str());
  return r;
}

// `steps`: pamtester's operations ("authenticate acct_mgmt"); the password is
// its standard input. Output is pamtester's stdout and stderr together.
inline CommandResult pamtester(const Daemon& d, const std::string& service, const std::string& user,
                               const std::string& password, const std::string& steps = "authenticate") {
  return in_pam_namespace(d, d.client_wrapper() + "pamtester " + service + " " + user + " " + steps, password + "\n");
}

}  // namespace fastid::testing
