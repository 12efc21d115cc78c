// fastidd as a service: what it tells the service manager over NOTIFY_SOCKET
// (READY=1 only once its sockets accept; RELOADING=1 then READY=1 around a
// SIGHUP; STOPPING=1 at SIGTERM; path and abstract addresses; nothing it spawns
// inherits the socket), and that it never asks itself for its own service user
// (FASTID_DISABLE, docs/client.md): a second fastidd in a mount namespace whose
// nsswitch.conf lists fastid must not take a user only the first one serves.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/daemon_fixture.h"

namespace fastid::testing {
namespace {

// The service manager's end: a datagram socket that records who sent what.
class NotifyListener {
 public:
  struct Message {
    std::string text;
    pid_t pid = -1;
  };

  // `name`: a path, or "@name" for an abstract address.
  explicit NotifyListener(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, name_.data(), name_.size());
    if (name_[0] == '@') sa.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
    int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifyListener() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }

  // The next datagram within `limit`, or nullopt.
  std::optional<Message> next(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &msg, 0);
    if (n < 0) return std::nullopt;
    Message m;
    m.text.assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        m.pid = cred.pid;
      }
    }
    return m;
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

// Starts `d` with NOTIFY_SOCKET pointing at `listener`, without waiting.
void launch_notified(Daemon& d, const NotifyListener& listener, std::vector<std::string> args = {}) {
  ::setenv("NOTIFY_SOCKET", listener.name().c_str(), 1);
  d.launch(args);
  ::unsetenv("NOTIFY_SOCKET");
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(ServiceNotify, ReadyOnlyOnceTheSocketsAcceptThenReloadingReadyAndStopping) {
  Daemon d(100, 10);
  NotifyListener listener(d.dir() + "/notify");
  ASSERT_TRUE(listener.bound());
  launch_notified(d, listener);

  auto ready = listener.next();
  ASSERT_TRUE(ready) << "no READY=1 within 10 s; log:\n" << d.log();
  EXPECT_EQ(ready->text, "READY=1");
  EXPECT_EQ(ready->pid, d.pid());
  // Nothing polled the socket before: at READY=1 it must accept and answer.
  EXPECT_TRUE(d.answers());
  EXPECT_EQ(d.getent("passwd user00001").exit_code, 0);

  ::kill(d.pid(), SIGHUP);
  auto reloading = listener.next();
  ASSERT_TRUE(reloading) << d.log();
  EXPECT_TRUE(starts_with(reloading->text, "RELOADING=1\nMONOTONIC_USEC=")) << reloading->text;
  auto reloaded = listener.next();
  ASSERT_TRUE(reloaded) << d.log();
  EXPECT_EQ(reloaded->text, "READY=1");
  EXPECT_NE(d.log().find("reloaded configuration"), std::string::npos) << "READY=1 after the reload";

  ::kill(d.pid(), SIGTERM);
  auto stopping = listener.next();
  ASSERT_TRUE(stopping) << d.log();
  EXPECT_EQ(stopping->text, "STOPPING=1");
  int status = d.wait_exit(std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(listener.next(std::chrono::milliseconds(200))) << "nothing after STOPPING=1";
}

// With -w 2 the workers report; each one reloads between its own RELOADING=1
// and READY=1.
TEST(ServiceNotify, EveryWorkerReportsWithSeveralWorkers) {
  Daemon d(100, 10);
  NotifyListener listener(d.dir() + "/notify");
  ASSERT_TRUE(listener.bound());
  launch_notified(d, listener, {"-w", "2"});
  std::set<pid_t> ready;
  for (int i = 0; i < 2; ++i) {
    auto m = listener.next();
    ASSERT_TRUE(m) << d.log();
    EXPECT_EQ(m->text, "READY=1");
    ready.insert(m->pid);
    if (i == 0) {
      EXPECT_TRUE(d.answers()) << "READY=1 before the socket accepts";
    }
  }
  EXPECT_EQ(ready.size(), 2u) << "one READY=1 from each worker";
  EXPECT_EQ(ready.count(d.pid()), 0u) << "the supervisor itself serves nothing";

  ::kill(d.pid(), SIGHUP);
  std::map<pid_t, std::vector<std::string>> seen;
  for (int i = 0; i < 4; ++i) {
    auto m = listener.next();
    ASSERT_TRUE(m) << d.log();
    seen[m->pid].push_back(m->text.substr(0, m->text.find('\n')));
  }
  for (pid_t w : ready) {
    EXPECT_EQ(seen[w], (std::vector<std::string>{"RELOADING=1", "READY=1"})) << "worker " << w;
  }
  ::kill(d.pid(), SIGTERM);
  for (int i = 0; i < 2; ++i) {
    auto m = listener.next();
    ASSERT_TRUE(m) << d.log();
    EXPECT_EQ(m->text, "STOPPING=1");
  }
  EXPECT_TRUE(WIFEXITED(d.wait_exit(std::chrono::seconds(10))));
}

TEST(ServiceNotify, AbstractAddress) {
  Daemon d(100, 10);
  NotifyListener listener("@fastid-service-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(listener.bound());
  launch_notified(d, listener);
  auto ready = listener.next();
  ASSERT_TRUE(ready) << d.log();
  EXPECT_EQ(ready->text, "READY=1");
  ::kill(d.pid(), SIGTERM);
  auto stopping = listener.next();
  ASSERT_TRUE(stopping);
  EXPECT_EQ(stopping->text, "STOPPING=1");
}

// Provider workers get neither the service manager's socket nor fastid itself.
TEST(ServiceNotify, ProviderWorkersInheritNeitherNotifySocketNorFastid) {
  Daemon d(100, 10);
  d.write_config("[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
                 "/state\"\n[store]\nenabled = false\n[[provider]]\nname = \"gen\"\ntype = \"slow\"\n"
                 "users = 10\ngroups = 2\n");
  NotifyListener listener(d.dir() + "/notify");
  ASSERT_TRUE(listener.bound());
  launch_notified(d, listener);
  ASSERT_TRUE(listener.next()) << d.log();
  ASSERT_EQ(d.getent("passwd user00001").exit_code, 0) << d.log();
  auto workers = run("pgrep -P " + std::to_string(d.pid()) + " -f fastid-provider-worker");
  ASSERT_FALSE(workers.out.empty()) << "no provider worker running";
  for (const auto& pid : split(workers.out, '\n')) {
    if (pid.empty()) continue;
    std::string environ = read_file("/proc/" + pid + "/environ");
    for (char& c : environ) c = c == '\0' ? '\n' : c;
    EXPECT_EQ(environ.find("NOTIFY_SOCKET="), std::string::npos) << "worker " << pid;
    EXPECT_NE(environ.find("\nFASTID_DISABLE=1\n"), std::string::npos) << "worker " << pid;
  }
}

// The attack: the service user named in [daemon] user is known only to a
// fastid (a directory, or a stale fast cache from a crashed run). Through its
// own module fastidd would take that answer's uid; it must refuse instead.
TEST(SelfLookup, ServiceUserIsNeverResolvedThroughFastid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m, privilege drop";
  Daemon upstream(100, 10);
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const std::string dir = upstream.dir();
  write_file(dir + "/nsswitch.conf", "passwd: files fastid\ngroup: files fastid\n");
  auto ns = [&](const std::string& command) {
    return run("unshare -m sh -c 'mount --bind " + dir + "/nsswitch.conf /etc/nsswitch.conf && exec env " +
               upstream.env() + command + "' 2>&1");
  };
  // The namespace reaches the upstream through glibc: user00001 exists there.
  auto seen = ns("getent passwd user00001");
  ASSERT_EQ(seen.exit_code, 0) << seen.out;
  ASSERT_NE(seen.out.find("user00001:"), std::string::npos);

  std::filesystem::create_directories(dir + "/second");
  write_file(dir + "/second/fastid.toml",
             "[daemon]\nsocket_dir = \"" + dir + "/second/run\"\nstate_dir = \"" + dir +
                 "/second/state\"\nuser = \"user00001\"\n[[provider]]\nname = \"local\"\ntype = \"files\"\n"
                 "passwd = \"" + dir + "/data/passwd\"\ngroup = \"" + dir + "/data/group\"\n");
  auto second = ns("timeout 10 " + bin_dir() + "/fastidd --config " + dir + "/second/fastid.toml");
  EXPECT_EQ(second.exit_code, 1) << "started as a user only fastid knows:\n" << second.out;
  EXPECT_NE(second.out.find("no user \"user00001\""), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("running as"), std::string::npos) << second.out;
}

}  // namespace
}  // namespace fastid::testing
