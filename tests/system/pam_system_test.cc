// PAM end to end: pam_fastid.so loaded by real libpam (pamtester, and
// pam_driver for what pamtester cannot send), with a PAM service file bound
// over /etc/pam.d inside a private mount namespace (unshare -m; the real
// /etc/pam.d is never touched), against a real fastidd whose files provider
// reads a shadow file of yescrypt, SHA-512 and bcrypt hashes made here with
// libcrypt. Needs root (unshare, setpriv); skipped otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <future>
#include <memory>

#include "support/pam_fixture.h"
#include "support/raw_client.h"
#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;

// Every password used below: none may appear in the daemon's log or state files.
const char* const kPasswords[] = {
    "Yes-crypt.pw1", "Sha512-pw.two", "Bcrypt-pw.three", "Expired-pw.4", "Change-me.pw5",
    "Locked-pw.6",   "Lockout-pw.7",  "Caller-pw.8",     "Rate-pw.9",    "Wrong-guess.0"};

class PamSystemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    daemon_ = new PamDaemon(
        "max_failures = 3\nfailure_window = \"1m\"\nlockout_time = \"2s\"\ncaller_rate = "
        "1\ncaller_burst = 5\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    if (daemon_ == nullptr) return;
    int status = daemon_->stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m, setpriv";
  }
  static PamDaemon* daemon_;
};
PamDaemon* PamSystemTest::daemon_ = nullptr;

TEST_F(PamSystemTest, RightPasswordAuthenticatesAndTheAccountIsInOrder) {
  auto r =
      daemon_->pamtester("fastid-test", "user00001", "Yes-crypt.pw1", "authenticate acct_mgmt");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has(r, kSuccess)) << r.out;
  EXPECT_TRUE(has(r, "account management done")) << r.out;
}

TEST_F(PamSystemTest, Sha512AndBcryptHashesAreCheckedByLibcrypt) {
  auto sha = daemon_->pamtester("fastid-test", "user00002", "Sha512-pw.two");
  EXPECT_TRUE(has(sha, kSuccess)) << sha.out;
  auto bcrypt = daemon_->pamtester("fastid-test", "user00003", "Bcrypt-pw.three");
  EXPECT_TRUE(has(bcrypt, kSuccess)) << bcrypt.out;
  // Another user's password is not this one's.
  auto swapped = daemon_->pamtester("fastid-test", "user00003", "Sha512-pw.two");
  EXPECT_TRUE(has(swapped, kAuthErr)) << swapped.out;
}

TEST_F(PamSystemTest, WrongPasswordIsAuthErr) {
  auto r = daemon_->pamtester("fastid-test", "user00002", kWrong);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r, kAuthErr)) << r.out;
}

TEST_F(PamSystemTest, UnknownUserIsUserUnknown) {
  auto r = daemon_->pamtester("fastid-test", "nosuchuser", kWrong);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r, kUnknown)) << r.out;
}

TEST_F(PamSystemTest, ExpiredAccountIsAcctExpired) {
  auto r = daemon_->pamtester("fastid-test", "user00004", "Expired-pw.4", "authenticate acct_mgmt");
  EXPECT_TRUE(has(r, kSuccess)) << "the password itself is right: " << r.out;
  EXPECT_TRUE(has(r, kExpired)) << r.out;
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(PamSystemTest, PasswordToBeChangedIsNewAuthtokReqd) {
  auto r =
      daemon_->pamtester("fastid-test", "user00005", "Change-me.pw5", "authenticate acct_mgmt");
  EXPECT_TRUE(has(r, kSuccess)) << r.out;
  EXPECT_TRUE(has(r, kNewToken)) << r.out;
}

TEST_F(PamSystemTest, LockedHashRefusesEvenTheRightPassword) {
  auto r = daemon_->pamtester("fastid-test", "user00006", "Locked-pw.6");
  EXPECT_TRUE(has(r, kAuthErr)) << r.out;
}

TEST_F(PamSystemTest, NonRootCallerMayAuthenticateItselfOnly) {
  // user00008 is uid 100008 in the dataset; the caller runs as that uid.
  auto self = daemon_->pamtester("fastid-test", "user00008", "Caller-pw.8",
                                 "authenticate acct_mgmt", 100008);
  EXPECT_EQ(self.exit_code, 0) << self.out;
  EXPECT_TRUE(has(self, kSuccess)) << self.out;
  // Another user, even with that user's right password: refused, and logged.
  auto other =
      daemon_->pamtester("fastid-test", "user00001", "Yes-crypt.pw1", "authenticate", 100008);
  EXPECT_NE(other.exit_code, 0);
  EXPECT_TRUE(has(other, kDenied)) << other.out;
  auto account = daemon_->pamtester("fastid-test", "user00001", "", "acct_mgmt", 100008);
  EXPECT_TRUE(has(account, kDenied)) << account.out;
  const std::string log = daemon_->log();
  EXPECT_NE(log.find("a caller may only ask about itself: user user00001 (service fastid-test, "
                     "caller uid 100008"),
            std::string::npos)
      << log;
}

TEST_F(PamSystemTest, LockoutAfterMaxFailuresThenUnlockedAfterLockoutTime) {
  for (int i = 0; i < 3; ++i) {
    auto r = daemon_->pamtester("fastid-test", "user00007", kWrong);
    EXPECT_TRUE(has(r, kAuthErr)) << "failure " << i << ": " << r.out;
  }
  auto locked = daemon_->pamtester("fastid-test", "user00007", "Lockout-pw.7");
  EXPECT_NE(locked.exit_code, 0);
  EXPECT_TRUE(has(locked, kMaxTries)) << "the right password while locked out: " << locked.out;
  // Another user is not affected.
  EXPECT_TRUE(has(daemon_->pamtester("fastid-test", "user00002", "Sha512-pw.two"), kSuccess));
  std::this_thread::sleep_for(2500ms);  // lockout_time = 2s
  auto after = daemon_->pamtester("fastid-test", "user00007", "Lockout-pw.7");
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_TRUE(has(after, kSuccess)) << after.out;
  EXPECT_NE(daemon_->log().find("locked out after 3 failures: user user00007"), std::string::npos);
}

TEST_F(PamSystemTest, NonRootCallersAreRateLimitedPerUid) {
  // caller_burst = 5, caller_rate = 1/s: 30 requests started at once cannot
  // all pass unless they reach the daemon spread over 25 s. (One after the
  // other they could: on a loaded machine each pamtester took over a second,
  // and the bucket refilled between them.)
  constexpr int kAtOnce = 30;
  std::string loop = "sh -c \"for n in";
  for (int i = 0; i < kAtOnce; ++i) loop += " " + std::to_string(i);
  loop += "; do (echo Rate-pw.9 | pamtester fastid-test user00009 authenticate 2>&1) & done; wait\"";
  auto r = daemon_->in_namespace(loop, "", 100009);
  auto count = [&r](const std::string& what) {
    int n = 0;
    for (auto p = r.out.find(what); p != std::string::npos; p = r.out.find(what, p + 1)) ++n;
    return n;
  };
  const int refused = count(kMaxTries), passed = count(kSuccess);
  EXPECT_GE(passed, 1) << r.out;
  // Refused by the per-uid rate (others may be refused as too many attempts
  // at once for one user: max_failures = 3 in flight).
  EXPECT_GE(count("too many authentication requests"), 1) << passed << " passed: " << r.out;
  EXPECT_EQ(refused + passed, kAtOnce) << r.out;
  // Root (the system's login services) is not rate-limited per uid.
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(has(daemon_->pamtester("fastid-test", "user00009", "Rate-pw.9"), kSuccess));
  }
}

// pamtester under strace (poll, select and sleep calls of every thread); the
// trace is returned in *trace. A module that waited out a deadline shows it as
// a call that returned "(Timeout)" or as a sleep: counted, not timed.
CommandResult traced_pamtester(const PamDaemon& d, const std::string& service, std::string* trace) {
  const std::string file = d.dir() + "/trace." + service;
  auto r = d.in_namespace(
      "strace -f -qq -e trace=poll,ppoll,select,pselect6,epoll_wait,nanosleep,clock_nanosleep -o " + file +
          " pamtester " + service + " user00001 authenticate",
      "Yes-crypt.pw1\n");
  *trace = read_file(file);
  return r;
}

bool waited_out_a_deadline(const std::string& trace) {
  return trace.find("(Timeout)") != std::string::npos || trace.find("nanosleep(") != std::string::npos;
}

TEST_F(PamSystemTest, MissingDaemonIsAuthinfoUnavailWithoutWaitingForAnyDeadline) {
  std::string trace;
  auto r = traced_pamtester(*daemon_, "fastid-down", &trace);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r, kUnavail)) << r.out;
  EXPECT_FALSE(waited_out_a_deadline(trace)) << trace;
  EXPECT_LT(r.seconds, 60.0) << "the reply deadline is 120 s";
  EXPECT_FALSE(has(r, "Password:")) << "no prompt for a password nobody can check: " << r.out;
}

TEST_F(PamSystemTest, StaleSocketOfADeadDaemonIsAuthinfoUnavailWithoutWaitingForAnyDeadline) {
  fs::create_directories(daemon_->dir() + "/stale");
  const std::string path = daemon_->dir() + "/stale/pam";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = unix_address(path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // the file stays, nobody listens: what a killed daemon leaves
  std::string trace;
  auto r = traced_pamtester(*daemon_, "fastid-stale", &trace);
  EXPECT_TRUE(has(r, kUnavail)) << r.out;
  EXPECT_FALSE(waited_out_a_deadline(trace)) << trace;
  EXPECT_LT(r.seconds, 60.0) << "the reply deadline is 120 s";
}

TEST_F(PamSystemTest, StoppedDaemonIsAuthinfoUnavailAfterThePingDeadline) {
  // The daemon accepts (the kernel does) but never answers: the module's ping
  // deadline (check_timeout, 5 s by default) ends it before any password is
  // sent, not the 120 s reply deadline of this service.
  ASSERT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
  auto r = daemon_->pamtester("fastid-patient", "user00001", "Yes-crypt.pw1");
  ::kill(daemon_->pid(), SIGCONT);
  EXPECT_TRUE(has(r, kUnavail)) << r.out;
  EXPECT_LT(r.seconds, 60.0) << "5 s ping deadline, far below the 120 s reply deadline";
  EXPECT_FALSE(has(r, "Password:")) << r.out;
  // And it serves again once resumed.
  EXPECT_TRUE(has(daemon_->pamtester("fastid-test", "user00001", "Yes-crypt.pw1"), kSuccess));
}

// An impostor listening on a root-owned socket path but not running as root
// answers everything "yes": the module must not send it a password.
TEST_F(PamSystemTest, ImpostorDaemonThatIsNotRootNeverGetsThePassword) {
  const std::string dir = daemon_->dir() + "/fake";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0777);
  const std::string path = dir + "/pam";
  const std::string received = dir + "/received";
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child == 0) {
    int out = ::open(received.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = unix_address(path);
    // Bound as root (a root-owned socket file), listening as nobody: the
    // peer credentials a client sees are the listener's.
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(1);
    ::chmod(path.c_str(), 0666);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    if (::listen(fd, 8) != 0) ::_exit(3);
    (void)!::write(ready[1], "r", 1);
    for (;;) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      for (;;) {
        std::uint8_t head[proto::kHeaderSize];
        if (::recv(c, head, sizeof head, MSG_WAITALL) != static_cast<ssize_t>(sizeof head)) break;
        (void)!::write(out, head, sizeof head);
        proto::FrameHeader h{};
        proto::decode_header(head, &h);
        std::vector<std::uint8_t> body(h.length);
        if (h.length &&
            ::recv(c, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size()))
          break;
        (void)!::write(out, body.data(), body.size());
        proto::Bytes reply =
            h.opcode == static_cast<std::uint16_t>(proto::Opcode::kPing)
                ? proto::encode_ping_reply(h.request_id, "impostor")
                : proto::encode_auth_reply(h.request_id, static_cast<proto::Opcode>(h.opcode),
                                           proto::AuthReply{proto::AuthResult::kSuccess, ""});
        (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  ::close(ready[1]);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);

  auto r = daemon_->pamtester("fastid-fake", "user00001", "Yes-crypt.pw1");
  EXPECT_TRUE(has(r, kUnavail)) << r.out;
  // The same impostor's socket owned by a non-root user is refused before connecting.
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto r2 = daemon_->pamtester("fastid-fake", "user00001", "Yes-crypt.pw1");
  EXPECT_TRUE(has(r2, kUnavail)) << r2.out;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(read_file(received).find("Yes-crypt.pw1"), std::string::npos)
      << "the impostor got the password";
}

// A root daemon that answers the ping but then breaks the protocol: a reply
// announcing 1 MiB, a garbage header, or a closed connection. The module must
// answer PAM_AUTHINFO_UNAVAIL at once, and pamtester must not crash.
TEST_F(PamSystemTest, BrokenDaemonRepliesAreAuthinfoUnavail) {
  const std::string dir = daemon_->dir() + "/broken";
  fs::create_directories(dir);
  // Reply deadline 120 s: a module that waited for the rest of a bad reply
  // would take it all.
  daemon_->service("fastid-broken", lib_dir() + "/pam_fastid.so socket=" + dir + "/pam timeout=120");
  for (int mode = 0; mode < 3; ++mode) {
    ::unlink((dir + "/pam").c_str());
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    pid_t child = ::fork();
    if (child == 0) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr = unix_address(dir + "/pam");
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0)
        ::_exit(1);
      (void)!::write(ready[1], "r", 1);
      serve_frames(fd, [mode](int c, const proto::FrameHeader& h, const std::vector<std::uint8_t>&) {
        if (h.opcode == static_cast<std::uint16_t>(proto::Opcode::kPing)) {
          proto::Bytes pong = proto::encode_ping_reply(h.request_id, "broken");
          (void)!::send(c, pong.data(), pong.size(), MSG_NOSIGNAL);
          return true;
        }
        if (mode == 0) {  // announces 1 MiB, sends 16 bytes
          proto::FrameHeader big{proto::kVersion, proto::kFlagReply, h.opcode, h.request_id, 0,
                                 1u << 20};
          std::uint8_t out[proto::kHeaderSize + 16] = {};
          proto::encode_header(big, out);
          (void)!::send(c, out, sizeof out, MSG_NOSIGNAL);
        } else if (mode == 1) {  // garbage
          std::uint8_t junk[64];
          std::memset(junk, 0xA5, sizeof junk);
          (void)!::send(c, junk, sizeof junk, MSG_NOSIGNAL);
        }
        return false;  // mode 2: just close
      });
    }
    ::close(ready[1]);
    char byte;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    auto r = daemon_->pamtester("fastid-broken", "user00001", "Yes-crypt.pw1");
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_TRUE(has(r, kUnavail)) << "mode " << mode << ": " << r.out;
    EXPECT_LT(r.seconds, 60.0) << "mode " << mode << ": the reply deadline is 120 s";
  }
}

TEST_F(PamSystemTest, A64KiBPasswordIsRefusedAtOnceAndNothingHangs) {
  const std::string huge(64 * 1024, 'p');
  auto r = daemon_->driver("fastid-patient user00001 authenticate", huge);
  EXPECT_TRUE(has(r, std::string("authenticate: ") + kAuthErr)) << r.out.substr(0, 300);
  EXPECT_LT(r.seconds, 60.0) << "the reply deadline is 120 s";
  // The same on the wire, past the module: the daemon answers "too large" and keeps serving.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = unix_address(daemon_->socket_dir() + "/pam");
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  proto::Request req;
  req.opcode = proto::Opcode::kAuthenticate;
  req.request_id = 7;
  req.name = "user00001";
  req.password = core::Secret(huge);
  proto::Bytes frame = proto::encode_request(req);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::uint8_t head[proto::kHeaderSize];
  ASSERT_EQ(::recv(fd, head, sizeof head, MSG_WAITALL), static_cast<ssize_t>(sizeof head));
  proto::FrameHeader h{};
  ASSERT_EQ(proto::decode_header(head, &h), proto::HeaderCheck::kOk);
  EXPECT_EQ(h.status, static_cast<std::uint32_t>(proto::WireStatus::kTooLarge));
  ::close(fd);
  EXPECT_TRUE(has(daemon_->pamtester("fastid-test", "user00001", "Yes-crypt.pw1"), kSuccess));
}

TEST_F(PamSystemTest, AuthRequestsOnTheLookupSocketAreRefused) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = unix_address(daemon_->socket_dir() + "/nss");
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  proto::Request req;
  req.opcode = proto::Opcode::kAuthenticate;
  req.request_id = 9;
  req.name = "user00001";
  req.password = core::Secret("Yes-crypt.pw1");
  proto::Bytes frame = proto::encode_request(req);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  std::uint8_t head[proto::kHeaderSize];
  ASSERT_EQ(::recv(fd, head, sizeof head, MSG_WAITALL), static_cast<ssize_t>(sizeof head));
  proto::FrameHeader h{};
  ASSERT_EQ(proto::decode_header(head, &h), proto::HeaderCheck::kOk);
  EXPECT_EQ(h.status, static_cast<std::uint32_t>(proto::WireStatus::kPermissionDenied));
  ::close(fd);
}

TEST_F(PamSystemTest, UseFirstPassAndTryFirstPassTakeTheEarlierModulesPassword) {
  // pam_unix prompts once; with use_first_pass or try_first_pass we reuse its answer.
  auto first = daemon_->driver("fastid-first user00001 authenticate", "Yes-crypt.pw1");
  EXPECT_EQ(first.exit_code, 0) << first.out;
  EXPECT_TRUE(has(first, "prompts: 1")) << first.out;
  auto tried = daemon_->driver("fastid-try user00001 authenticate", "Yes-crypt.pw1");
  EXPECT_EQ(tried.exit_code, 0) << tried.out;
  EXPECT_TRUE(has(tried, "prompts: 1")) << tried.out;
  // Without either option we ask on our own.
  auto again = daemon_->driver("fastid-again user00001 authenticate", "Yes-crypt.pw1");
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(has(again, "prompts: 2")) << again.out;
  // use_first_pass with nothing from an earlier module: fail, never prompt.
  auto none = daemon_->driver("fastid-first-only user00001 authenticate", "Yes-crypt.pw1");
  EXPECT_TRUE(has(none, std::string("authenticate: ") + kAuthErr)) << none.out;
  EXPECT_TRUE(has(none, "prompts: 0")) << none.out;
  // try_first_pass with nothing earlier: prompts.
  auto prompted = daemon_->driver("fastid-try-only user00001 authenticate", "Yes-crypt.pw1");
  EXPECT_EQ(prompted.exit_code, 0) << prompted.out;
  EXPECT_TRUE(has(prompted, "prompts: 1")) << prompted.out;
}

TEST_F(PamSystemTest, CliAuthReportsTheResult) {
  const std::string cli = daemon_->env() + bin_dir() + "/fastid auth ";
  auto ok = run("echo 'Sha512-pw.two' | " + cli + "user00002 2>&1");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_TRUE(has(ok, "auth user00002: success")) << ok.out;
  EXPECT_TRUE(has(ok, "account user00002: success")) << ok.out;
  auto bad = run("echo '" + std::string(kWrong) + "' | " + cli + "user00002 2>&1");
  EXPECT_EQ(bad.exit_code, 3) << bad.out;
  EXPECT_TRUE(has(bad, "authentication failure")) << bad.out;
  auto unknown = run("echo x | " + cli + "nosuchuser 2>&1");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  // Run by a normal user: its own password only.
  const std::string as_user = "setpriv --reuid=100008 --regid=100008 --clear-groups env " +
                              daemon_->env() + bin_dir() + "/fastid auth ";
  auto own = run("echo 'Caller-pw.8' | " + as_user + "user00008 2>&1");
  EXPECT_EQ(own.exit_code, 0) << own.out;
  auto other = run("echo 'Sha512-pw.two' | " + as_user + "user00002 2>&1");
  EXPECT_EQ(other.exit_code, 3) << other.out;
  EXPECT_TRUE(has(other, "permission denied")) << other.out;
  auto expired = run("echo 'Expired-pw.4' | " + cli + "user00004 2>&1");
  EXPECT_EQ(expired.exit_code, 3) << expired.out;
  EXPECT_TRUE(has(expired, "account expired")) << expired.out;
}

// Last in the suite: every password above went through the daemon.
TEST_F(PamSystemTest, ZzPasswordsAppearNowhereInTheLogOrStateFiles) {
  std::vector<std::string> files = {daemon_->log_path()};
  for (const auto& e : fs::recursive_directory_iterator(daemon_->dir() + "/state")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  ASSERT_GE(files.size(), 2u) << "the fast cache maps exist";
  for (const auto& f : files) {
    const std::string text = read_file(f);
    for (const char* pw : kPasswords) {
      EXPECT_EQ(text.find(pw), std::string::npos) << pw << " found in " << f;
    }
  }
  EXPECT_NE(daemon_->log().find("pam: authenticated by provider test"), std::string::npos);
  EXPECT_FALSE(fs::exists(daemon_->dir() + "/state/pam-offline"))
      << "offline authentication is off by default";
}

// Offline authentication: the files provider's shadow file made unreadable is
// an outage (kUnavailable), as an unreachable directory would be.
class PamOfflineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
    daemon_ = std::make_unique<PamDaemon>("offline = true\noffline_max_age = \"1h\"\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  std::unique_ptr<PamDaemon> daemon_;
};

TEST_F(PamOfflineTest,
       CachedCredentialsServeOnlyWhileTheSourceIsUnreachableAndNeverAfterARejection) {
  PamDaemon& d = *daemon_;
  const std::string offline = d.dir() + "/state/pam-offline";
  const std::string hidden = d.shadow_path() + ".away";
  // No online login yet: nothing to fall back on.
  ASSERT_EQ(::rename(d.shadow_path().c_str(), hidden.c_str()), 0);
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00001", "Yes-crypt.pw1"), kUnavail));
  ASSERT_EQ(::rename(hidden.c_str(), d.shadow_path().c_str()), 0);

  // Online success: a salted hash is kept, root-only, without the password.
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00001", "Yes-crypt.pw1"), kSuccess));
  struct stat st {};
  ASSERT_EQ(::stat(offline.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  const std::string stored = read_file(offline);
  EXPECT_EQ(stored.rfind("user00001:$y$", 0), 0u) << stored;
  EXPECT_EQ(stored.find("Yes-crypt.pw1"), std::string::npos);

  // The source goes away: the cached credential answers, right and wrong.
  ASSERT_EQ(::rename(d.shadow_path().c_str(), hidden.c_str()), 0);
  auto offline_ok =
      d.pamtester("fastid-test", "user00001", "Yes-crypt.pw1", "authenticate acct_mgmt");
  EXPECT_EQ(offline_ok.exit_code, 0) << offline_ok.out;
  EXPECT_TRUE(has(offline_ok, kSuccess)) << offline_ok.out;
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00001", kWrong), kAuthErr));
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00002", "Sha512-pw.two"), kUnavail))
      << "never logged in online";
  EXPECT_NE(d.log().find("pam: authenticated offline (sources unreachable): user user00001"),
            std::string::npos);

  // Back online, the password was changed: the old one is rejected by the
  // source, and that rejection removes the cached credential...
  std::string shadow = read_file(hidden);
  ::unlink(hidden.c_str());
  const std::string line_end = shadow.substr(shadow.find('\n'));
  shadow = "user00001:" + hash_of("New-pw.12", "$y$") + ":" + std::to_string(today() - 1) +
           ":0:99999:7:::" + line_end;
  write_file(d.shadow_path(), shadow);
  // The files provider sees the file again at its next check (refresh_interval,
  // 1 s, on the front worker's timer): until then the source may still look
  // unreachable. Polled up to a deadline (times FASTID_TEST_TIME_SCALE): a
  // memcheck'd daemon took longer than one pamtester call.
  EXPECT_TRUE(wait_until([&] { return has(d.pamtester("fastid-test", "user00001", "Yes-crypt.pw1"), kAuthErr); },
                         std::chrono::seconds(10)));
  // ...so when the source goes away again, the old password does not get in.
  ASSERT_EQ(::rename(d.shadow_path().c_str(), hidden.c_str()), 0);
  auto after = d.pamtester("fastid-test", "user00001", "Yes-crypt.pw1");
  EXPECT_TRUE(has(after, kUnavail)) << after.out;
  EXPECT_EQ(read_file(offline).find("user00001:"), std::string::npos);
}

// A pooled provider (slow, in fastid-provider-worker processes): passwords
// travel to the worker and back as a verdict; a hung backend is an outage.
TEST(PamPooledProviderTest, SlowProviderPasswordsThroughTheWorkerPool) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
  PamDaemon d("");
  const std::string down = d.dir() + "/slow-is-down";
  d.write_config(
      "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
      "/state\"\n\n[pam]\noffline = true\n\n[[provider]]\nname = \"slow\"\ntype = \"slow\"\n"
      "users = 100\ngroups = 10\npassword = \"Slow-pw.11\"\nhang_names = [\"user00066\"]\n"
      "down_file = \"" +
      down + "\"\npool = { request_timeout = \"" + scaled_duration(std::chrono::milliseconds(500)) + "\" }\n");
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00042", "Slow-pw.11", "authenticate acct_mgmt"),
                  kSuccess));
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00042", kWrong), kAuthErr));
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user99999", "Slow-pw.11"), kUnknown));
  auto hung = d.pamtester("fastid-test", "user00066", "Slow-pw.11");
  EXPECT_TRUE(has(hung, kUnavail)) << hung.out;
  // Two logins at once with different passwords are never merged into one call.
  auto a = std::async(std::launch::async,
                      [&] { return d.pamtester("fastid-test", "user00043", "Slow-pw.11"); });
  auto b = d.pamtester("fastid-test", "user00043", kWrong);
  EXPECT_TRUE(has(a.get(), kSuccess));
  EXPECT_TRUE(has(b, kAuthErr)) << b.out;
  // The directory goes down (every call of the provider is "unavailable"):
  // the user who logged in online gets in offline; nobody else does.
  // (The wrong guess above, refused by the cache too, left the credential in place.)
  write_file(down, "");
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00042", "Slow-pw.11", "authenticate acct_mgmt"),
                  kSuccess));
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00042", kWrong), kAuthErr));
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00044", "Slow-pw.11"), kUnavail));
  ::unlink(down.c_str());
  EXPECT_EQ(d.log().find("Slow-pw.11"), std::string::npos);
  EXPECT_EQ(read_file(d.dir() + "/state/pam-offline").find("Slow-pw.11"), std::string::npos);
}

}  // namespace
}  // namespace fastid::testing

namespace fastid::testing {
namespace {

// With -w 2 the front workers share the pam listener like the others; each
// answers authentication on its own; the lockout table is shared (docs/pam.md).
TEST(PamWorkersTest, FrontWorkersShareThePamSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
  PamDaemon d("");
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  for (int i = 0; i < 6; ++i) {
    auto r = d.pamtester("fastid-test", "user00002", "Sha512-pw.two", "authenticate acct_mgmt");
    EXPECT_EQ(r.exit_code, 0) << r.out;
  }
  EXPECT_TRUE(has(d.pamtester("fastid-test", "user00002", kWrong), kAuthErr));
  int status = d.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace fastid::testing
