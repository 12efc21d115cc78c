// pam_fastid's check deadline (the module's check_timeout= argument,
// docs/pam.md): before it prompts and before it sends a password, the module
// connects to fastidd's pam socket and pings it, and a daemon that does not
// answer in time is PAM_AUTHINFO_UNAVAIL. A daemon that is alive but not
// scheduled for a while — a host at load 12-15, as in the 30-minute soak —
// must not fail a login that way. Here the daemon is SIGSTOPped for 2 s once
// pamtester's connection waits in its listener's queue (so the module waits
// at least 2 s for its ping), then resumed: the fixed 900 ms deadline the
// module had made that login fail; the default deadline lets it in, and a
// service that asks for a short one (check_timeout=0.5) still gets it.
// Real libpam (pamtester) in a private mount namespace against a real
// fastidd (support/pam_fixture.h). Needs root (unshare); skipped otherwise.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "support/pam_fixture.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;

class PamDeadlineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    daemon_ = new PamDaemon("");
    const std::string module = lib_dir() + "/pam_fastid.so socket=" + pam_socket();
    daemon_->service("fastid-quick-check", module + " check_timeout=0.5");
    // Not a value the module takes (a fourth decimal, a comma, out of range):
    // each is ignored, logged, and the default stands.
    daemon_->service("fastid-bad-check", module + " check_timeout=0.0001 check_timeout=1,5 check_timeout=121");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    if (daemon_ == nullptr) return;
    daemon_->stop(SIGTERM);
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
  }

  static std::string pam_socket() { return daemon_->socket_dir() + "/pam"; }

  // Connections waiting in the pam listener's accept queue (ss: a listening
  // socket's Recv-Q), -1 if the listener is not seen.
  static int waiting_connections() {
    std::istringstream lines(run("ss -xlnH 2>/dev/null").out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string netid, state, path;
      int recv_q = 0, send_q = 0;
      if (words >> netid >> state >> recv_q >> send_q >> path && path == pam_socket()) return recv_q;
    }
    return -1;
  }

  // One pamtester login of a SHA-512 user through `service` while the daemon
  // is stopped: from before pamtester starts until its first connection has
  // waited `stall` in the listener's queue (its ping unanswered that long).
  static CommandResult login_through_a_stall(const std::string& service, std::chrono::milliseconds stall) {
    // Nothing of an earlier client left in the queue, so that what waits below is pamtester's.
    EXPECT_TRUE(wait_until([] { return waiting_connections() == 0; }))
        << "the pam listener must be seen, with nothing waiting: " << waiting_connections();
    EXPECT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
    auto login = std::async(std::launch::async,
                            [&service] { return daemon_->pamtester(service, "user00002", "Sha512-pw.two"); });
    const bool waiting = wait_until([] { return waiting_connections() > 0; });
    // The fault itself: the daemon is not scheduled for this long.
    if (waiting) std::this_thread::sleep_for(stall);
    ::kill(daemon_->pid(), SIGCONT);
    EXPECT_TRUE(waiting) << "pamtester's connection never reached the pam listener";
    return login.get();
  }

  static PamDaemon* daemon_;
};
PamDaemon* PamDeadlineTest::daemon_ = nullptr;

TEST_F(PamDeadlineTest, ADaemonNotScheduledForTwoSecondsStillLogsTheUserIn) {
  // The module's former fixed 900 ms deadline: PAM_AUTHINFO_UNAVAIL here,
  // with no prompt (the check before it failed).
  auto r = login_through_a_stall("fastid-test", 2000ms);
  EXPECT_TRUE(has(r, kSuccess)) << r.out;
  EXPECT_TRUE(has(r, "Password:")) << r.out;
}

TEST_F(PamDeadlineTest, CheckTimeoutShortensTheWaitForADaemonThatDoesNotAnswer) {
  // A site that wants a fast fall-through to the next module asks for it:
  // 0.5 s, then PAM_AUTHINFO_UNAVAIL before any prompt or password.
  auto r = login_through_a_stall("fastid-quick-check", 2000ms);
  EXPECT_TRUE(has(r, kUnavail)) << r.out;
  EXPECT_FALSE(has(r, "Password:")) << r.out;
  // The daemon serves again once resumed.
  auto again = daemon_->pamtester("fastid-quick-check", "user00002", "Sha512-pw.two");
  EXPECT_TRUE(has(again, kSuccess)) << again.out;
}

TEST_F(PamDeadlineTest, AMalformedCheckTimeoutIsIgnoredAndTheDefaultStands) {
  auto r = login_through_a_stall("fastid-bad-check", 2000ms);
  EXPECT_TRUE(has(r, kSuccess)) << r.out;
}

}  // namespace
}  // namespace fastid::testing
