// The Kerberos login beyond the password check (issue #18), through real PAM:
// pamtester in a mount namespace with a private pam.d whose session stack
// runs a script through pam_exec (support/krb5_pam_fixture.h), fastidd with
// `auth_provider = "krb5"`, the private KDC of tests/krb5/kdc-fixture.
//   - KRB5CCNAME: after a KDC login, pam_sm_setcred and pam_sm_open_session
//     put the user's cache in the PAM environment, and klist as the user
//     finds the TGT there;
//   - the attack: a daemon (a root process on the pam socket, standing in for
//     a fastidd or provider worker gone wrong) names caches with a newline,
//     outside ccache_dir, another user's or root's file, a link, a file
//     others may read, another uid's keyring: the module exports none;
//   - an expired password changed through kpasswd in chauthtok; a new one
//     the realm's policy refuses; a wrong current password;
//   - offline: the KDC stopped, a user who logged in before gets in with the
//     cached credential, a wrong password does not, and no ticket is claimed.
// Needs root (mount namespaces, chown).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "proto/wire.h"
#include "support/krb5_pam_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

constexpr const char* kUserPw = "Kerberos-pw.10";
constexpr unsigned kUid = 100010;  // user00010 of PamDaemon's dataset
constexpr const char* kChanged = "authentication token altered successfully";
constexpr const char* kTokenErr = "Authentication token manipulation error";

class Krb5SessionTest : public Krb5PamSuite<Krb5SessionTest> {
 public:
  static constexpr const char* kCachePrefix = "/tmp/fastid-krb5cc-s";
  static Kdc::Options kdc_options() {
    return {.users = {{"user00010", kUserPw}, {"user00013", "Old-krb-pw.13"}, {"user00014", "Old-krb-pw.14"}}};
  }

 protected:
  // A started daemon of `realm` whose logins leave caches in cache_dir_, and
  // the services "krb5-setcred" (pam_fastid in auth only: setcred exports)
  // and "krb5-session" (in session too: open_session exports).
  void start(PamDaemon& d, const Kdc& realm, const std::string& pam_section = "", std::string ccache = "") {
    if (ccache.empty()) ccache = "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX";
    d.write_config(krb5_config(d, realm, ccache, pam_section));
    ::setenv("KRB5_CONFIG", realm.krb5_config().c_str(), 1);
    ASSERT_TRUE(d.start()) << d.log();
    const std::string script = write_session_script(d, "session.sh", kUid);
    const std::string args = "socket=" + d.socket_dir() + "/pam ccache_dir=" + cache_dir_;
    krb5_service(d, "krb5-setcred", args, script, false);
    krb5_service(d, "krb5-session", args, script, true);
  }
};

TEST_F(Krb5SessionTest, TheSessionGetsKrb5ccnameAndKlistFindsTheUsersTicket) {
  PamDaemon d("");
  start(d, *kdc);
  // setcred, as sshd and login call it before the session.
  auto r = d.pamtester("krb5-setcred", "user00010", kUserPw, "authenticate setcred open_session");
  EXPECT_EQ(r.exit_code, 0) << r.out << d.log();
  const std::string cache = cache_logged(d, "user00010");
  ASSERT_FALSE(cache.empty()) << d.log();
  EXPECT_TRUE(has(r, "session KRB5CCNAME=[FILE:" + cache + "]")) << r.out;
  EXPECT_TRUE(has(r, "klist: Default principal: user00010@" + kdc->realm())) << r.out;
  EXPECT_TRUE(has(r, "krbtgt/" + kdc->realm() + "@" + kdc->realm())) << r.out;
  // open_session alone (no setcred) exports it too; each login its own cache.
  auto s = d.pamtester("krb5-session", "user00010", kUserPw, "authenticate open_session");
  EXPECT_EQ(s.exit_code, 0) << s.out;
  const std::string second = cache_logged(d, "user00010");
  EXPECT_NE(second, cache);
  EXPECT_TRUE(has(s, "session KRB5CCNAME=[FILE:" + second + "]")) << s.out;
  // A session nobody authenticated in this handle gets none.
  auto none = d.pamtester("krb5-session", "user00010", "", "open_session");
  EXPECT_TRUE(has(none, "session KRB5CCNAME=[none]")) << none.out;
}

// krb5_ccache = "KEYRING:persistent:%U": the ticket goes to the user's
// persistent kernel keyring, which the session names and the user's klist
// reads; another user's klist cannot reach it.
TEST_F(Krb5SessionTest, AKeyringCacheIsTheUsersPersistentKeyring) {
  const std::string as_user = "setpriv --reuid=100010 --regid=100010 --clear-groups env KRB5_CONFIG=/dev/null ";
  const std::string keyring = "KEYRING:persistent:" + std::to_string(kUid);
  (void)run(as_user + "kdestroy -A -c " + keyring + " 2>&1");
  ASSERT_NE(run(as_user + "klist -c " + keyring + " 2>&1").exit_code, 0) << "a ticket before the login";
  PamDaemon d("");
  start(d, *kdc, "", "KEYRING:persistent:%U");
  auto r = d.pamtester("krb5-setcred", "user00010", kUserPw, "authenticate setcred open_session");
  EXPECT_EQ(r.exit_code, 0) << r.out << d.log();
  EXPECT_TRUE(has(r, "session KRB5CCNAME=[" + keyring + "]")) << r.out << d.log();
  EXPECT_TRUE(has(r, "klist: Default principal: user00010@" + kdc->realm())) << r.out;
  auto other = run("setpriv --reuid=100011 --regid=100011 --clear-groups env KRB5_CONFIG=/dev/null klist -c " +
                   keyring + " 2>&1");
  EXPECT_NE(other.exit_code, 0) << other.out;
  EXPECT_EQ(run(as_user + "kdestroy -A -c " + keyring + " 2>&1").exit_code, 0);
}

// A root process on a root-owned pam socket that says "success" to every
// password and names, as the credential cache, whatever `answer` holds.
class CcacheNamingDaemon {
 public:
  explicit CcacheNamingDaemon(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir_);
    ::chmod(dir_.c_str(), 0755);
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) serve(ready[1]);
    ::close(ready[1]);
    char byte = 0;
    ok_ = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
  }
  ~CcacheNamingDaemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }
  std::string socket() const { return dir_ + "/pam"; }
  void answer(const std::string& ccache) const { write_file(dir_ + "/answer", ccache); }

 private:
  [[noreturn]] void serve(int ready) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = unix_address(socket());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0) ::_exit(1);
    ::chmod(socket().c_str(), 0666);
    (void)!::write(ready, "r", 1);
    serve_frames(fd, [this](int c, const proto::FrameHeader& h, const std::vector<std::uint8_t>&) {
      std::uint8_t out[2048];
      proto::WireWriter w(out + proto::kHeaderSize, sizeof out - proto::kHeaderSize);
      if (h.opcode == static_cast<std::uint16_t>(proto::Opcode::kPing)) {
        w.str("fake", 4);
      } else {
        const std::string name = read_file(dir_ + "/answer");
        w.u32(static_cast<std::uint32_t>(proto::AuthResult::kSuccess));
        w.str("", 0);
        w.str(name.data(), name.size());
      }
      proto::FrameHeader reply{proto::kVersion, proto::kFlagReply, h.opcode, h.request_id, 0,
                               static_cast<std::uint32_t>(w.len)};
      proto::encode_header(reply, out);
      (void)!::send(c, out, proto::kHeaderSize + w.len, MSG_NOSIGNAL);
      return true;
    });
  }

  std::string dir_;
  pid_t pid_ = -1;
  bool ok_ = false;
};

// The attack: whatever a daemon names as the user's cache, the module puts
// in the session only a plain name of a file of the user's own, mode 0600,
// one link, directly in ccache_dir (or the user's own keyring). Otherwise a
// newline would add an environment line of the daemon's choosing
// (LD_PRELOAD for the session's programs), and another user's, root's or a
// linked file would be the session's "ticket".
TEST_F(Krb5SessionTest, TheModuleExportsOnlyACacheOfTheUsersOwnInItsDirectory) {
  PamDaemon d("");
  ASSERT_TRUE(d.start()) << d.log();  // NSS for the module's getpwnam
  CcacheNamingDaemon fake(d.dir() + "/fake");
  ASSERT_TRUE(fake.ok());
  const std::string script = write_session_script(d, "session.sh", kUid);
  krb5_service(d, "krb5-fake", "socket=" + fake.socket() + " ccache_dir=" + cache_dir_, script, true);
  auto file = [&](const std::string& name, unsigned uid, mode_t mode) {
    const std::string path = cache_dir_ + "/" + name;
    write_file(path, "not a real cache\n");
    EXPECT_EQ(::chown(path.c_str(), uid, uid), 0);
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  };
  const std::string good = file("krb5cc_100010_good", kUid, 0600);
  file("krb5cc_root", 0, 0600);
  file("krb5cc_100011", 100011, 0600);
  file("krb5cc_100010_open", kUid, 0644);
  fs::create_symlink(good, cache_dir_ + "/krb5cc_100010_link");
  ASSERT_EQ(::link(good.c_str(), (cache_dir_ + "/krb5cc_100010_hard").c_str()), 0);
  fs::create_directories("/tmp/fastid-krb5cc-elsewhere");
  const std::string elsewhere = "/tmp/fastid-krb5cc-elsewhere/krb5cc_100010";
  write_file(elsewhere, "x");
  ASSERT_EQ(::chown(elsewhere.c_str(), kUid, kUid), 0);
  ::chmod(elsewhere.c_str(), 0600);

  const std::vector<std::string> refused = {
      "FILE:" + good + "\nLD_PRELOAD=/tmp/evil.so",
      "FILE:" + good + " LD_PRELOAD=/tmp/evil.so",
      "FILE:/etc/shadow",
      "FILE:" + cache_dir_ + "/../../etc/shadow",
      "FILE:" + cache_dir_ + "/./krb5cc_100010_good",
      "FILE:" + elsewhere,
      "FILE:" + cache_dir_ + "/krb5cc_root",
      "FILE:" + cache_dir_ + "/krb5cc_100011",
      "FILE:" + cache_dir_ + "/krb5cc_100010_open",
      "FILE:" + cache_dir_ + "/krb5cc_100010_link",
      "FILE:" + cache_dir_ + "/krb5cc_100010_hard",
      "FILE:" + cache_dir_ + "/krb5cc_100010_missing",
      "MEMORY:krb5cc_100010",
      "DIR:" + cache_dir_,
      "KEYRING:persistent:0",
      "KEYRING:session:" + std::to_string(kUid),
  };
  for (const std::string& name : refused) {
    fake.answer(name);
    auto r = d.pamtester("krb5-fake", "user00010", "any-password", "authenticate setcred open_session");
    EXPECT_EQ(r.exit_code, 0) << r.out;  // the fake daemon said yes
    EXPECT_TRUE(has(r, "session KRB5CCNAME=[none]")) << "exported: " << name << "\n" << r.out;
    EXPECT_FALSE(has(r, "LD_PRELOAD")) << r.out;
  }
  ::unlink((cache_dir_ + "/krb5cc_100010_hard").c_str());
  // What the module does take, so the refusals above are the checks' doing.
  for (const std::string& name : {"FILE:" + good, "KEYRING:persistent:" + std::to_string(kUid)}) {
    fake.answer(name);
    auto r = d.pamtester("krb5-fake", "user00010", "any-password", "authenticate setcred open_session");
    EXPECT_TRUE(has(r, "session KRB5CCNAME=[" + name + "]")) << r.out;
  }
  fs::remove_all("/tmp/fastid-krb5cc-elsewhere");
}

// An expired Kerberos password: acct_mgmt says a new one is required, and
// chauthtok changes it at the KDC through kpasswd (kadmind) with the current
// one; the new one then logs in and the old one no longer does.
TEST_F(Krb5SessionTest, AnExpiredPasswordIsChangedThroughKpasswd) {
  ASSERT_TRUE(kdc->kadmin("modprinc -pwexpire yesterday user00013")) << kdc->error();
  PamDaemon d("");
  start(d, *kdc);
  auto expired = d.pamtester("krb5-session", "user00013", "Old-krb-pw.13", "authenticate acct_mgmt");
  EXPECT_TRUE(has(expired, kNewToken)) << expired.out << d.log();

  auto change = [&](const std::string& user, const std::string& old_pw, const std::string& new_pw) {
    return d.in_namespace("pamtester krb5-session " + user + " chauthtok",
                          old_pw + "\n" + new_pw + "\n" + new_pw + "\n");
  };
  auto wrong = change("user00013", "Not-the-pw.13", "New-krb-pw.13b");
  EXPECT_NE(wrong.exit_code, 0) << wrong.out;
  EXPECT_TRUE(has(wrong, kDenied)) << wrong.out;

  auto changed = change("user00013", "Old-krb-pw.13", "New-krb-pw.13b");
  EXPECT_EQ(changed.exit_code, 0) << changed.out << d.log();
  EXPECT_TRUE(has(changed, kChanged)) << changed.out;
  EXPECT_NE(d.log().find("pam: password changed by provider"), std::string::npos) << d.log();

  auto fresh = d.pamtester("krb5-session", "user00013", "New-krb-pw.13b", "authenticate acct_mgmt open_session");
  EXPECT_EQ(fresh.exit_code, 0) << fresh.out << d.log();
  const std::string cache = cache_logged(d, "user00013");
  ASSERT_FALSE(cache.empty()) << d.log();
  EXPECT_TRUE(has(fresh, "session KRB5CCNAME=[FILE:" + cache + "]")) << fresh.out;
  auto old = d.pamtester("krb5-session", "user00013", "Old-krb-pw.13", "authenticate");
  EXPECT_TRUE(has(old, kAuthErr)) << old.out;
  EXPECT_EQ(d.log().find("New-krb-pw.13b"), std::string::npos) << "a password in the log";
}

// The realm's policy refuses the new password (the fixture's "strict": 12
// characters at least): PAM_AUTHTOK_ERR with kadmind's reason; the old
// password stays.
TEST_F(Krb5SessionTest, ANewPasswordThePolicyRefusesIsAnAuthtokError) {
  ASSERT_TRUE(kdc->kadmin("modprinc -policy strict user00014")) << kdc->error();
  PamDaemon d("");
  start(d, *kdc);
  auto r = d.in_namespace("pamtester krb5-session user00014 chauthtok", "Old-krb-pw.14\nShort.1\nShort.1\n");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has(r, kTokenErr)) << r.out;
  EXPECT_TRUE(has(r, "too short")) << r.out;
  EXPECT_EQ(d.pamtester("krb5-session", "user00014", "Old-krb-pw.14", "authenticate").exit_code, 0);
}

// The attack: a KDC and kpasswd server that are not the realm's (DNS or
// the network redirected) take the attacker's password for the user and
// report the change as done. Were it believed, the offline credential would
// hold the attacker's new password, good for a login whenever the real KDC
// is unreachable. The new password's ticket must verify against the host
// keytab first: it cannot, so the change is refused and nothing is kept.
TEST_F(Krb5SessionTest, ASpoofedKdcCannotFakeAPasswordChange) {
  Kdc spoof({.users = {{"user00010", "Attacker-pw.1"}}});
  ASSERT_TRUE(spoof.started()) << spoof.error();
  PamDaemon d("");
  d.write_config(krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX", "offline = true\n"));
  ::setenv("KRB5_CONFIG", spoof.krb5_config().c_str(), 1);  // fastidd asks the spoofed realm
  const bool started = d.start();
  ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
  ASSERT_TRUE(started) << d.log();
  const std::string script = write_session_script(d, "session.sh", kUid);
  krb5_service(d, "krb5-session", "socket=" + d.socket_dir() + "/pam ccache_dir=" + cache_dir_, script, true);
  auto r = d.in_namespace("pamtester krb5-session user00010 chauthtok",
                          "Attacker-pw.1\nAttacker-new.1\nAttacker-new.1\n");
  EXPECT_NE(r.exit_code, 0) << "a spoofed kpasswd changed the password: " << r.out;
  EXPECT_FALSE(has(r, kChanged)) << r.out;
  EXPECT_NE(d.log().find("does not verify against krb5_keytab " + kdc->host_keytab()), std::string::npos)
      << d.log();
  EXPECT_EQ(d.log().find("pam: password changed by provider"), std::string::npos) << d.log();
  // Nothing was kept for offline logins.
  const std::string offline_file = d.dir() + "/state/pam-offline";
  std::error_code ec;
  EXPECT_FALSE(fs::exists(offline_file, ec) && read_file(offline_file).find("user00010:") != std::string::npos)
      << read_file(offline_file);
}

// The KDC stopped: a user who logged in before authenticates from the
// offline credential, as with a directory that is down; a wrong password is
// refused; no ticket is claimed (no cache written, no KRB5CCNAME). Back
// online once the KDC returns.
TEST_F(Krb5SessionTest, WhileTheKdcIsDownOfflineCredentialsLogInWithoutATicket) {
  Kdc own({.users = {{"user00010", kUserPw}}});
  ASSERT_TRUE(own.started()) << own.error();
  PamDaemon d("");
  start(d, own, "offline = true\n");
  auto online = d.pamtester("krb5-session", "user00010", kUserPw, "authenticate open_session");
  ASSERT_EQ(online.exit_code, 0) << online.out << d.log();
  const std::string first = cache_logged(d, "user00010");
  ASSERT_FALSE(first.empty()) << d.log();

  ASSERT_TRUE(own.stop()) << own.error();
  auto offline = d.pamtester("krb5-session", "user00010", kUserPw, "authenticate open_session");
  EXPECT_EQ(offline.exit_code, 0) << offline.out << d.log();
  EXPECT_TRUE(has(offline, "authenticated with cached credentials")) << offline.out;
  EXPECT_TRUE(has(offline, "session KRB5CCNAME=[none]")) << offline.out;
  EXPECT_NE(d.log().find("pam: authenticated offline"), std::string::npos) << d.log();
  auto wrong = d.pamtester("krb5-session", "user00010", "Not-the-pw.10", "authenticate");
  EXPECT_TRUE(has(wrong, kAuthErr)) << wrong.out;
  // A user of the provider who never logged in: no credential, no login.
  auto never = d.pamtester("krb5-session", "user00011", "Any-pw.11", "authenticate");
  EXPECT_TRUE(has(never, kUnavail)) << never.out;
  EXPECT_EQ(cache_logged(d, "user00010"), first) << "a ticket claimed while the KDC was down";

  ASSERT_TRUE(own.restart()) << own.error();
  EXPECT_TRUE(wait_until([&] {
    auto again = d.pamtester("krb5-session", "user00010", kUserPw, "authenticate");
    return again.exit_code == 0 && cache_logged(d, "user00010") != first;
  })) << d.log();
}

}  // namespace
}  // namespace fastid::testing
