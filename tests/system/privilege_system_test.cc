// The privilege boundary, attacked through the real programs: the service
// user ([daemon] user) trying to get root's files chowned to it at start, or
// to ptrace the workers that handle passwords; socket and state directories
// that others can change; and `fastid auth` talking to a daemon that is not
// root. Everything here needs root (the tests run as root) and skips otherwise.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>

#include "support/daemon_fixture.h"

namespace fastid::testing {
namespace {

constexpr uid_t kServiceUid = 65534;  // nobody, given as numbers in [daemon] user/group

using Clock = std::chrono::steady_clock;

// Runs `body` in a child process that has become the service user for good.
pid_t as_service_user(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::setgroups(0, nullptr) != 0 || ::setgid(kServiceUid) != 0 || ::setuid(kServiceUid) != 0) ::_exit(100);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // set after setuid, which clears it
  body();
  ::_exit(0);
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// The fixture's config with `lines` added to [daemon].
std::string config_with(const Daemon& d, const std::string& lines) {
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), lines);
  return cfg;
}

bool touch(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

const std::string kDropToService = "user = \"65534\"\ngroup = \"65534\"\n";

// ---- 1. the hand-over of state_dir at every start -------------------------

TEST(PrivilegeSystemTest, TheServiceUserSwappingTheCacheDirectoryForALinkGetsNoFileOfRoots) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Daemon d(100, 10);
  ::chmod(d.dir().c_str(), 0755);  // the workers read the dataset and the config
  d.write_config(config_with(d, kDropToService));
  // A root-owned directory with files in it stands for /etc or /usr/bin. Many
  // files: the more names the hand-over goes through, the wider the window.
  constexpr int kVictimFiles = 10000;
  const std::string victim = d.dir() + "/victim";
  ASSERT_EQ(::mkdir(victim.c_str(), 0755), 0);
  std::vector<std::string> files;
  for (int i = 0; i < kVictimFiles; ++i) {
    files.push_back(victim + "/file" + std::to_string(i));
    ASSERT_TRUE(touch(files.back())) << files.back();
  }
  ASSERT_TRUE(d.start()) << d.log();
  d.stop(SIGTERM);
  const std::string state = d.dir() + "/state";
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  ASSERT_EQ(st.st_uid, kServiceUid) << "state_dir is the service user's after a start";

  // The service user fills state_dir/mc with names the victim has (as if
  // "shadow", "sudoers"), so that a path through mc that is a link at the
  // wrong moment lands on root's file; then it swaps mc with a link to the
  // victim, all the time.
  const std::string mc = state + "/mc", decoy = state + "/decoy";
  const pid_t attacker = as_service_user([&] {
    for (const auto& entry : fs::directory_iterator(mc)) ::unlink(entry.path().c_str());
    for (int i = 0; i < kVictimFiles; ++i) touch(mc + "/file" + std::to_string(i));
    if (::symlink(victim.c_str(), decoy.c_str()) != 0) ::_exit(101);
    for (;;) ::renameat2(AT_FDCWD, mc.c_str(), AT_FDCWD, decoy.c_str(), RENAME_EXCHANGE);
  });
  bool swapping = false;
  for (auto until = Clock::now() + std::chrono::seconds(60); !swapping && Clock::now() < until;) {
    swapping = ::lstat(mc.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }
  ASSERT_TRUE(swapping) << "the attack does not run: state_dir/mc never became a link";

  int served = 0;
  for (int i = 0; i < 20; ++i) {
    if (d.start()) ++served;  // a start may also be refused: both are fine
    d.stop(SIGTERM);
  }
  ::kill(attacker, SIGKILL);
  wait_status(attacker);

  std::vector<std::string> given;
  for (const auto& f : files) {
    ASSERT_EQ(::lstat(f.c_str(), &st), 0) << f;
    if (st.st_uid != 0 || st.st_gid != 0) given.push_back(f);
  }
  EXPECT_TRUE(given.empty()) << given.size() << " of root's files were given to the service user, "
                             << given.front() << " the first";
  ASSERT_EQ(::lstat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the victim directory itself was given away";
  std::printf("starts under attack: %d of 20 served, the others refused\n", served);
}

// ---- 2. processes that hold secrets stay non-dumpable after the drop ------

// Sets fs.suid_dumpable for the life of the object and puts the old value
// back whatever happens (a failed ASSERT returns through the destructor).
class SuidDumpable {
 public:
  explicit SuidDumpable(const std::string& value) : old_(read_file(kPath)) {
    write_file(kPath, value + "\n");
    ok_ = read_file(kPath) == value + "\n";
  }
  ~SuidDumpable() {
    if (!old_.empty()) write_file(kPath, old_);
  }
  SuidDumpable(const SuidDumpable&) = delete;
  SuidDumpable& operator=(const SuidDumpable&) = delete;
  bool ok() const { return ok_; }

 private:
  static constexpr const char* kPath = "/proc/sys/fs/suid_dumpable";
  std::string old_;
  bool ok_ = false;
};

TEST(PrivilegeSystemTest, WorkersOfTheServiceUserCannotBeTracedByThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  // With fs.suid_dumpable = 0 setuid clears the dumpable flag by itself and
  // this test would pass without fastid's own prctl after the drop; at 1 the
  // flag comes back dumpable, and only that prctl protects the workers.
  SuidDumpable dumpable("1");
  ASSERT_TRUE(dumpable.ok()) << "cannot set /proc/sys/fs/suid_dumpable";
  Daemon d(100, 10);
  ::chmod(d.dir().c_str(), 0755);
  // Two front workers, and the files provider in the pool (provider workers).
  std::string cfg = config_with(d, kDropToService + "workers = 2\n");
  cfg += "isolation = \"process\"\n";
  d.write_config(cfg);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.getent("passwd user00042").exit_code, 0);
  std::set<pid_t> workers;
  for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
    workers.clear();
    for (pid_t p : descendants(d.pid())) {
      if (uid_line(p).find("\t65534\t65534\t") != std::string::npos) workers.insert(p);
    }
    if (workers.size() >= 3) break;  // two front workers, at least one provider worker
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(workers.size(), 3u) << "expected front and provider workers running as 65534";
  for (pid_t p : workers) {
    // The kernel gives the files in a non-dumpable process's /proc/PID to root.
    // A provider worker the pool has just exec'd is dumpable until its first
    // prctl (that window is the next test's): wait for it to get there, then
    // it must stay non-dumpable.
    struct stat st {};
    for (auto until = Clock::now() + std::chrono::seconds(5); Clock::now() < until;) {
      ASSERT_EQ(::stat(("/proc/" + std::to_string(p) + "/status").c_str(), &st), 0);
      if (st.st_uid == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(st.st_uid, 0u) << "pid " << p << " is still dumpable after 5 s";
    const pid_t tracer = as_service_user([p] {
      if (::ptrace(PTRACE_SEIZE, p, nullptr, nullptr) == 0) ::_exit(1);
      ::_exit(errno == EPERM ? 0 : 2);
    });
    const int status = wait_status(tracer);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the service user could ptrace worker " << p << " (status " << status << ")";
  }
}

// A provider worker is exec'd, and exec makes it dumpable until its first
// prctl: a process of the service user that attached in that window would
// stay attached and read the directory credentials and passwords it handles.
// The worker refuses to run under any tracer. Here the tracer is its parent
// (PTRACE_TRACEME before the exec), attached before the worker's first
// instruction as the attacker in the window would be.
TEST(PrivilegeSystemTest, AProviderWorkerRefusesToRunWhileTraced) {
  int err[2];
  ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
  const std::string worker = bin_dir() + "/fastid-provider-worker";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err[1], 2);
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) ::_exit(120);
    const std::string parent = std::to_string(::getppid());
    // LeakSanitizer (sanitizer builds) cannot run under a tracer.
    char no_leak_check[] = "ASAN_OPTIONS=detect_leaks=0";
    char* env[] = {no_leak_check, nullptr};
    ::execle(worker.c_str(), worker.c_str(), "--fd", "3", "--config-fd", "4", "--provider", "test", "--parent",
             parent.c_str(), nullptr, env);
    ::_exit(121);
  }
  ::close(err[1]);
  int status = 0;
  // Stopped at its exec (SIGTRAP), and at any signal: let it go on, traced.
  while (::waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
    const int sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
    ::ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(err[0]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << "status " << status << ": " << out;
  EXPECT_NE(out.find("refusing to run: another process is tracing this worker"), std::string::npos) << out;
}

// ---- 3. socket and state directories that others can change ---------------

struct Refusal {
  std::string name;
  std::string socket_dir, state_dir;  // "" = the fixture's
  std::function<void(const std::string& dir)> prepare;
  std::string message;
};

TEST(PrivilegeSystemTest, DirectoriesOthersCanChangeAreRefusedAtStartAndByCheckConfig) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::vector<Refusal> cases = {
      {"state_dir mode 0777", "", "", [](const std::string& dir) {
         ::mkdir((dir + "/state").c_str(), 0755);
         ::chmod((dir + "/state").c_str(), 0777);
       }, "/state is writable by everyone (mode 0777)"},
      {"state_dir mode 0775", "", "", [](const std::string& dir) {
         ::mkdir((dir + "/state").c_str(), 0755);
         ::chmod((dir + "/state").c_str(), 0775);
       }, "/state is writable by its group (mode 0775)"},
      {"socket_dir of another user", "", "", [](const std::string& dir) {
         ::mkdir((dir + "/run").c_str(), 0755);
         if (::chown((dir + "/run").c_str(), kServiceUid, kServiceUid) != 0) std::abort();
       }, "/run is owned by uid 65534, neither root nor the daemon's user"},
      {"world-writable directory on the way", "", "/open/state", [](const std::string& dir) {
         ::mkdir((dir + "/open").c_str(), 0755);
         ::chmod((dir + "/open").c_str(), 0777);
       }, "/open on the way is writable by everyone (mode 0777) without the sticky bit"},
      {"link in a world-writable directory", "/open/link", "", [](const std::string& dir) {
         ::mkdir((dir + "/open").c_str(), 0755);
         ::chmod((dir + "/open").c_str(), 0777);
         ::mkdir((dir + "/fine").c_str(), 0755);
         if (::symlink((dir + "/fine").c_str(), (dir + "/open/link").c_str()) != 0) std::abort();
       }, "/open on the way is writable by everyone"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Daemon d(10, 2);
    c.prepare(d.dir());
    std::string cfg = d.default_config_text();
    if (!c.socket_dir.empty()) {
      const std::string from = "\"" + d.dir() + "/run\"";
      cfg.replace(cfg.find(from), from.size(), "\"" + d.dir() + c.socket_dir + "\"");
    }
    if (!c.state_dir.empty()) {
      const std::string from = "\"" + d.dir() + "/state\"";
      cfg.replace(cfg.find(from), from.size(), "\"" + d.dir() + c.state_dir + "\"");
    }
    d.write_config(cfg);
    auto check = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
    EXPECT_NE(check.exit_code, 0) << check.out;
    EXPECT_NE(check.out.find(c.message), std::string::npos) << check.out;
    EXPECT_FALSE(d.start()) << "started on a directory others can change";
    EXPECT_NE(d.log().find(c.message), std::string::npos) << d.log();
  }
  // A sticky world-writable directory on the way (/tmp) is fine: nobody else
  // can rename root's entries in it.
  Daemon d(10, 2);
  ::mkdir((d.dir() + "/sticky").c_str(), 0755);
  ::chmod((d.dir() + "/sticky").c_str(), 01777);
  std::string cfg = d.default_config_text();
  const std::string from = "\"" + d.dir() + "/state\"";
  cfg.replace(cfg.find(from), from.size(), "\"" + d.dir() + "/sticky/state\"");
  d.write_config(cfg);
  auto check = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_TRUE(d.start()) << d.log();
}

// ---- 4. `fastid auth` and a daemon that is not root -----------------------

// A fake "daemon" on dir/pam, listening as the service user: it keeps every
// byte any client sends it. With `bind_as_root` the socket file is root's
// (bound before the drop) and only the listener's uid gives it away.
class FakeDaemon {
 public:
  FakeDaemon(const std::string& dir, bool bind_as_root) {
    int ready[2], bytes[2], stop[2];
    if (::pipe2(ready, O_CLOEXEC) || ::pipe2(bytes, O_CLOEXEC) || ::pipe2(stop, O_CLOEXEC)) std::abort();
    const std::string path = dir + "/pam";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    const int fd = bind_as_root ? ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (bind_as_root) {
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
      ::chmod(path.c_str(), 0666);
    }
    pid_ = as_service_user([&] {
      ::close(ready[0]);  // the test's ends: its closing stop[1] must be seen here
      ::close(bytes[0]);
      ::close(stop[1]);
      int listener = fd;
      if (!bind_as_root) {
        listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(102);
      }
      if (::listen(listener, 8) != 0) ::_exit(103);  // SO_PEERCRED: the creds of this call
      (void)!::write(ready[1], "r", 1);
      for (;;) {
        pollfd p[2] = {{listener, POLLIN, 0}, {stop[0], POLLIN, 0}};
        ::poll(p, 2, -1);
        if (p[1].revents) ::_exit(0);  // the test closed its end
        const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        // Read what the client sends, then hang up (no reply: nothing to wait for).
        char buf[4096];
        for (;;) {
          pollfd in{c, POLLIN, 0};
          if (::poll(&in, 1, 500) <= 0) break;
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          (void)!::write(bytes[1], buf, static_cast<size_t>(n));
        }
        ::close(c);
      }
    });
    if (fd >= 0) ::close(fd);
    ::close(ready[1]);
    ::close(bytes[1]);
    ::close(stop[0]);
    bytes_ = bytes[0];
    stop_ = stop[1];
    char byte;
    if (::read(ready[0], &byte, 1) != 1) std::abort();
    ::close(ready[0]);
  }

  // Stops the fake daemon; returns every byte it was sent.
  std::string received() {
    ::close(stop_);
    wait_status(pid_);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(bytes_, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(bytes_);
    return out;
  }

 private:
  pid_t pid_ = -1;
  int bytes_ = -1, stop_ = -1;
};

TEST(PrivilegeSystemTest, FastidAuthSendsNoPasswordToADaemonThatIsNotRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Daemon d(10, 2);
  ::chmod(d.dir().c_str(), 0755);
  const std::string kPassword = "Fake-daemon.secret";
  struct Case {
    const char* name;
    bool bind_as_root;
    const char* reason;
  };
  for (const Case c : {Case{"socket of the service user", false, "not a socket owned by root"},
                       Case{"root's socket file, listener not root", true, "the daemon behind it is not root"}}) {
    SCOPED_TRACE(c.name);
    const std::string dir = d.dir() + "/fake-" + (c.bind_as_root ? "root" : "user");
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    if (!c.bind_as_root) {
      ASSERT_EQ(::chown(dir.c_str(), kServiceUid, kServiceUid), 0);
    }
    FakeDaemon fake(dir, c.bind_as_root);
    // setsid: no controlling terminal, so the password comes from stdin.
    auto r = run("echo '" + kPassword + "' | setsid -w env FASTID_SOCKET_DIR=" + dir + " " + bin_dir() +
                 "/fastid auth user00001 2>&1");
    const std::string got = fake.received();
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(std::string("refusing ") + dir + "/pam: " + c.reason), std::string::npos) << r.out;
    EXPECT_EQ(got.find(kPassword), std::string::npos) << "the fake daemon got the password";
    EXPECT_TRUE(got.empty()) << got.size() << " bytes sent to the fake daemon";
  }
}

// `fastid passwd` makes the same checks before its first request (which
// carries no secret) and before the one with both passwords: nothing at all
// reaches a socket that is not root's or a listener that is not root.
TEST(PrivilegeSystemTest, FastidPasswdSendsNothingToADaemonThatIsNotRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Daemon d(10, 2);
  ::chmod(d.dir().c_str(), 0755);
  const std::string kOld = "Fake-daemon.old", kNew = "Fake-daemon.new";
  for (const bool bind_as_root : {false, true}) {
    SCOPED_TRACE(bind_as_root ? "root's socket file, listener not root" : "socket of the service user");
    const std::string dir = d.dir() + "/fake-" + (bind_as_root ? "root" : "user");
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    if (!bind_as_root) {
      ASSERT_EQ(::chown(dir.c_str(), kServiceUid, kServiceUid), 0);
    }
    FakeDaemon fake(dir, bind_as_root);
    auto r = run("printf '%s\\n' '" + kOld + "' '" + kNew + "' '" + kNew + "' | setsid -w env FASTID_SOCKET_DIR=" +
                 dir + " " + bin_dir() + "/fastid passwd user00001 2>&1");
    const std::string got = fake.received();
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("refusing " + dir + "/pam: "), std::string::npos) << r.out;
    EXPECT_TRUE(got.empty()) << got.size() << " bytes sent to the fake daemon";
    EXPECT_EQ(got.find(kOld), std::string::npos) << "the fake daemon got the password";
  }
}

}  // namespace
}  // namespace fastid::testing
