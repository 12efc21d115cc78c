#include "pool/provider_worker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "default_paths.h"

extern char** environ;

namespace fastid::pool {
namespace {

// Closes a descriptor on every early return.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// The raw system calls: glibc 2.36's <sys/pidfd.h> declares its wrappers
// without extern "C", so C++ cannot link them.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signo) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
}

core::Status unavailable(int err, std::string_view what) {
  return core::Status(core::Code::kUnavailable, core::status_from_errno(err, what).message(), err);
}

// The configuration as a sealed in-memory file: the worker reads exactly what
// the daemon validated (no second read of a file that may have changed since),
// and the text (which may hold a bind password) never appears on a command line.
core::Result<int> config_memfd(const std::string& text) {
  Fd fd(::memfd_create("fastid-provider-config", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd.fd < 0) return core::error(unavailable(errno, "memfd_create"));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return core::error(unavailable(errno, "write provider config"));
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return core::error(unavailable(errno, "seal provider config"));
  }
  return fd.release();
}

// Spawn attributes and file actions, destroyed on every return.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

core::Result<SpawnedProviderWorker> spawn_provider_worker(const ProviderWorkerCommand& command) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return core::error(unavailable(errno, "socketpair"));
  }
  Fd ours(pair[0]);
  Fd theirs(pair[1]);
  auto memfd = config_memfd(command.settings);
  if (!memfd) return core::error(memfd.error());
  Fd config(*memfd);
  // Sources well above the target numbers: dup2(fd, fd) would leave
  // FD_CLOEXEC set and the child would start without its descriptor.
  Fd socket_src(::fcntl(theirs.fd, F_DUPFD_CLOEXEC, 10));
  Fd config_src(::fcntl(config.fd, F_DUPFD_CLOEXEC, 10));
  if (socket_src.fd < 0 || config_src.fd < 0)
    return core::error(unavailable(errno, "dup worker descriptors"));
  // The front workers' log level page, read-only (core::shared_log_level_fd):
  // `fastid debug-level` reaches the provider worker too. None: its own level.
  Fd level(core::shared_log_level_fd());
  Fd level_src(level.fd >= 0 ? ::fcntl(level.fd, F_DUPFD_CLOEXEC, 10) : -1);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, socket_src.fd, 3);
  posix_spawn_file_actions_adddup2(&setup.actions, config_src.fd, 4);
  if (level_src.fd >= 0) posix_spawn_file_actions_adddup2(&setup.actions, level_src.fd, 5);
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  // Whatever the daemon or a library left open without O_CLOEXEC stays behind.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 6);

  // Dispositions set to SIG_IGN and blocked signals survive exec: the worker
  // must start as a fresh program would.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  const std::string parent = std::to_string(::getpid());
  std::vector<std::string> args = {command.path, "--fd",           "3",        "--config-fd", "4",
                                   "--provider", command.provider, "--parent", parent};
  if (level_src.fd >= 0) {
    args.emplace_back("--log-level-fd");
    args.emplace_back("5");
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, command.path.c_str(), &setup.actions, &setup.attr, argv.data(), environ);
  if (rc != 0) return core::error(unavailable(rc, "start provider worker " + command.path));

  SpawnedProviderWorker out;
  out.pid = pid;
  // Not reaped yet, so the pid is still this child's: no race in opening it.
  out.pidfd = pidfd_open(pid);
  if (out.pidfd >= 0) ::fcntl(out.pidfd, F_SETFD, FD_CLOEXEC);
  out.socket_fd = ours.release();
  return out;
}

void signal_provider_worker(pid_t pid, int pidfd, int signo) {
  // A pidfd names this very process even after it exits; never fall back to
  // the bare pid when there is one.
  if (pidfd >= 0) {
    pidfd_send_signal(pidfd, signo);
    return;
  }
  if (pid > 0) ::kill(pid, signo);
}

std::optional<int> reap_if_exited(pid_t pid) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r == 0) return std::nullopt;
    if (errno == EINTR) continue;
    return -1;  // ECHILD: gone already (SIGCHLD ignored, or reaped elsewhere)
  }
}

std::string describe_exit(int status) {
  if (status == -1) return "already reaped";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::sigdescr_np(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "unknown") + ")";
  }
  return "wait status " + std::to_string(status);
}

std::string default_provider_worker_path() {
  // Never a path from the environment or argv[0]: fastidd runs as root and
  // executes what this returns. The build tree is recognised by the marker
  // CMake writes beside its executables, looked up beside /proc/self/exe:
  // whoever can create a file in the running executable's own directory can
  // replace the executable itself, so the marker grants nothing more.
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    const std::string self(buf, static_cast<std::size_t>(n));
    const auto slash = self.rfind('/');
    if (slash != std::string::npos) {
      const std::string dir = self.substr(0, slash + 1);
      struct stat st;
      if (::lstat((dir + FASTID_BUILD_TREE_MARKER).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        return dir + "fastid-provider-worker";
      }
    }
  }
  return FASTID_PROVIDER_WORKER_PATH;
}

}  // namespace fastid::pool
