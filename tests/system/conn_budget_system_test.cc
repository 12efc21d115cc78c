// Connection budgets (issue #11, item 5): one unprivileged uid, or one network
// address, holding more connections than its cap does not shut anyone else
// out. The attacks run through real sockets — uid 65534 on the 0666 nss and
// pam sockets, 127.0.0.1 on the TCP listener — while other callers use the
// real interfaces: getent through the NSS module as root and as another uid,
// a PAM account request on the pam socket, `fastid status` and the admin
// socket's `fastid cache invalidate`. Needs root (setuid, setpriv).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uid_t kAttacker = 65534;   // nobody
constexpr uid_t kBystander = 65533;  // another unprivileged uid with its own lookups
constexpr int kPerUidDefault = 256;  // [daemon] max_connections_per_uid's default
constexpr int kPerAddressDefault = 64;  // [daemon] max_connections_per_address's default
// The worker's old single limit, low enough for the attacker to reach it.
constexpr const char* kSmallWorker = "max_connections = 600\n";

void raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

// A daemon reachable by unprivileged uids, with a TCP listener on a port the
// kernel picks (read back from the log).
class BudgetDaemon : public Daemon {
 public:
  explicit BudgetDaemon(const std::string& daemon_keys) : Daemon(200, 10) {
    ::chmod(dir().c_str(), 0755);  // mkdtemp's 0700 would keep other uids out
    std::string cfg = default_config_text();
    cfg.insert(cfg.find("log_level"), daemon_keys);
    write_config(cfg + "\n[listen]\ntcp = [\"127.0.0.1:0\"]\n");
  }

  CommandResult getent_as(uid_t uid, const std::string& args) const {
    return run("setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(uid) +
               " --clear-groups env " + env() + "getent -s fastid " + args + " 2>&1");
  }
};

// Holds `count` connections to each path as `uid` in a child process; reports
// how many it opened and how many the daemon left open, then waits for the
// test to let it go. `connect` opens one connection to a path.
class Holder {
 public:
  Holder(uid_t uid, const std::vector<std::pair<std::string, int>>& targets, int (*connect)(const std::string&)) {
    int report[2], release[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(release, O_CLOEXEC) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(report[0]);
      ::close(release[1]);
      if (uid != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(3);
      std::string line;
      for (const auto& [path, count] : targets) {
        std::vector<int> fds;
        for (int i = 0; i < count; ++i) {
          int fd = connect(path);
          if (fd >= 0) fds.push_back(fd);
        }
        // A round trip on the newest: the daemon has dealt with every older one.
        const bool newest_served = !fds.empty() && lookup(fds.back(), 1, "user00001");
        int open = 0;
        for (int fd : fds) open += closed_within(fd, 0) ? 0 : 1;
        line += std::to_string(fds.size()) + " " + std::to_string(open) + " " +
                (newest_served ? "1" : "0") + " ";
        held_.insert(held_.end(), fds.begin(), fds.end());
      }
      line += "\n";
      if (::write(report[1], line.data(), line.size()) < 0) ::_exit(4);
      char c;
      while (::read(release[0], &c, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(report[1]);
    ::close(release[0]);
    release_ = release[1];
    std::string text;
    char buf[256];
    ssize_t n;
    while (text.find('\n') == std::string::npos && (n = ::read(report[0], buf, sizeof buf)) > 0) text.append(buf, n);
    ::close(report[0]);
    std::istringstream in(text);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      Held h;
      int served = 0;
      in >> h.opened >> h.open >> served;
      h.newest_served = served == 1;
      held.push_back(h);
    }
  }
  ~Holder() {
    ::close(release_);
    int status;
    ::waitpid(pid_, &status, 0);
  }

  struct Held {
    int opened = -1;  // connect() succeeded
    int open = -1;    // still open after the newest was served
    bool newest_served = false;
  };
  std::vector<Held> held;  // one per target, in order

 private:
  pid_t pid_ = -1;
  int release_ = -1;
  std::vector<int> held_;
};

int connect_tcp_at(const std::string& port) { return connect_tcp(std::atoi(port.c_str())); }

// Everything another caller does keeps working: lookups through the module as
// root and as another uid, a PAM request, status and an admin request.
void expect_others_served(const BudgetDaemon& d, const std::string& user_a, const std::string& user_b) {
  auto root = d.getent("passwd " + user_a);
  EXPECT_EQ(root.exit_code, 0) << root.out;
  EXPECT_EQ(root.out, d.dataset.passwd_by_name.at(user_a) + "\n");
  auto other = d.getent_as(kBystander, "passwd " + user_b);
  EXPECT_EQ(other.exit_code, 0) << other.out;
  EXPECT_EQ(other.out, d.dataset.passwd_by_name.at(user_b) + "\n");

  int pam = connect_unix(d.socket_dir() + "/pam");
  ASSERT_GE(pam, 0);
  proto::Request account;
  account.opcode = proto::Opcode::kAccount;
  account.request_id = 9;
  account.name = user_a;
  account.service = "fastid-budget-test";
  auto reply = exchange(pam, account);
  ::close(pam);
  ASSERT_TRUE(reply.has_value()) << "the pam socket answers";
  EXPECT_EQ(reply->header.status, 0u);
  EXPECT_TRUE(proto::decode_auth_reply(*reply).has_value());

  auto status = d.status();
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("connections.open"), std::string::npos) << status.out;
  auto admin = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid cache invalidate 2>&1");
  EXPECT_EQ(admin.exit_code, 0) << "the admin socket answers: " << admin.out;
}

class ConnBudgetSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: setuid, setpriv";
    raise_fd_limit();  // the children and the daemon inherit it
  }
};

TEST_F(ConnBudgetSystemTest, OneUidOverItsCapOnTheNssAndPamSocketsShutsNobodyElseOut) {
  BudgetDaemon d(kSmallWorker);
  ASSERT_TRUE(d.start()) << d.log();
  // uid 65534 opens more than the worker ever allowed in all, on both 0666 sockets.
  Holder attacker(kAttacker, {{d.socket_dir() + "/nss", 700}, {d.socket_dir() + "/pam", 300}}, connect_unix);
  ASSERT_EQ(attacker.held.size(), 2u);
  std::printf("uid %u: nss %d opened, %d left open; pam %d opened, %d left open\n", kAttacker,
              attacker.held[0].opened, attacker.held[0].open, attacker.held[1].opened, attacker.held[1].open);
  EXPECT_EQ(attacker.held[0].opened, 700) << "connect() itself is never refused";
  // Past its cap the uid's own oldest idle connections are closed: its newest
  // works, and it never holds more than its cap on a socket.
  EXPECT_TRUE(attacker.held[0].newest_served);
  EXPECT_LE(attacker.held[0].open, kPerUidDefault);
  EXPECT_LE(attacker.held[1].open, kPerUidDefault);

  expect_others_served(d, "user00011", "user00012");

  // Root is exempt from the per-uid cap (its share of the socket is its own):
  // 300 connections of root's stay open beside the attacker's.
  Holder root(0, {{d.socket_dir() + "/nss", 300}}, connect_unix);
  EXPECT_EQ(root.held[0].open, 300);
  EXPECT_TRUE(root.held[0].newest_served);
  expect_others_served(d, "user00013", "user00014");
  EXPECT_NE(d.status_value("connections.evicted"), "0");
}

TEST_F(ConnBudgetSystemTest, OneNetworkAddressOverItsCapShutsNobodyElseOut) {
  BudgetDaemon d(kSmallWorker);
  ASSERT_TRUE(d.start()) << d.log();
  const int port = d.tcp_port();
  ASSERT_GT(port, 0) << d.log();
  Holder attacker(0, {{std::to_string(port), 700}}, connect_tcp_at);
  std::printf("127.0.0.1: %d opened, %d left open\n", attacker.held[0].opened, attacker.held[0].open);
  EXPECT_EQ(attacker.held[0].opened, 700);
  EXPECT_TRUE(attacker.held[0].newest_served);
  EXPECT_LE(attacker.held[0].open, kPerAddressDefault);

  expect_others_served(d, "user00021", "user00022");
  // Another client from the same address is served: the offender's oldest
  // idle connection makes room, not the newcomer.
  auto remote = run(bin_dir() + "/fastid --server 127.0.0.1:" + std::to_string(port) + " user user00023");
  EXPECT_EQ(remote.exit_code, 0) << remote.out;
}

TEST_F(ConnBudgetSystemTest, NetworkPeersHaveTheirOwnShorterIdleTimeout) {
  BudgetDaemon d("network_idle_timeout = \"1s\"\n");
  ASSERT_TRUE(d.start()) << d.log();
  const int port = d.tcp_port();
  ASSERT_GT(port, 0) << d.log();
  int tcp = connect_tcp(port);
  int local = connect_unix(d.socket_dir() + "/nss");
  ASSERT_GE(tcp, 0);
  ASSERT_GE(local, 0);
  ASSERT_TRUE(lookup(tcp, 1, "user00001"));
  ASSERT_TRUE(lookup(local, 2, "user00001"));
  const auto idle_since = Clock::now();
  EXPECT_TRUE(closed_within(tcp, 5000)) << "the network peer is closed after 1 s idle";
  EXPECT_GE(Clock::now() - idle_since, 900ms);
  EXPECT_FALSE(closed_within(local, 0)) << "local peers keep idle_timeout (60 s)";
  EXPECT_TRUE(lookup(local, 3, "user00002"));
  ::close(tcp);
  ::close(local);
}

}  // namespace
}  // namespace fastid::testing
