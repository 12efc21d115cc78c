// Attacks on fastidd through a directory (security issue #11), replayed
// against a private slapd (tests/ldap/slapd-fixture, with its own CA for
// StartTLS) through the real interfaces: getent -s fastid and pamtester
// (real libpam and pam_fastid.so in a private mount namespace), with slapd's
// own operation log as the witness of what was sent to it.
//   - a password bind over plain ldap:// (anyone on the path reads it)
//   - uid/gid 0 and ids outside [min_id, max_id] from the directory
//   - two entries with one name (which one is "alice"? neither)
//   - accounts the directory has locked (nsAccountLock, pwdAccountLockedTime)
// Needs root (unshare -m for pamtester); skipped otherwise.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

constexpr const char* kService = "fastid-sec-ldap";
constexpr const char* kSuccess = "successfully authenticated";
constexpr const char* kAuthErr = "Authentication failure";
constexpr const char* kUnavail = "Authentication service cannot retrieve authentication info";
constexpr const char* kPermDenied = "Permission denied";

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// A posixAccount entry added over LDAP; `ou` is where it lives under the base.
std::string user_ldif(const Slapd& s, const std::string& name, const std::string& uid, const std::string& gid,
                      const std::string& ou = "people", const std::string& extra = "") {
  return "dn: uid=" + name + ",ou=" + ou + "," + s.base() +
         "\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n" +
         (extra.find("nsAccountLock") != std::string::npos ? "objectClass: fastidTestAccountLock\n" : "") +
         "uid: " + name + "\ncn: " + name + "\nsn: " + name + "\nuidNumber: " + uid + "\ngidNumber: " + gid +
         "\nhomeDirectory: /home/" + name + "\nloginShell: /bin/sh\nuserPassword: " + Slapd::password_of(name) +
         "\n" + extra + "\n";
}

class LdapSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    slapd_ = new Slapd(Slapd::Options{.users = 50, .groups = 5, .tls = true, .log = true});
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    const Slapd& s = *slapd_;
    ASSERT_TRUE(s.ldapmodify(
        user_ldif(s, "toor", "0", "200001") + user_ldif(s, "lowuid", "500", "200001") +
        user_ldif(s, "gidzero", "100701", "0") +
        "dn: cn=rootgrp,ou=groups," + s.base() +
        "\nchangetype: add\nobjectClass: posixGroup\ncn: rootgrp\ngidNumber: 0\nmemberUid: user00001\n\n" +
        // One name, two entries: one under people, one under services (both in the user base).
        user_ldif(s, "twin", "100601", "200001") + user_ldif(s, "twin", "100602", "200001", "services") +
        user_ldif(s, "nslocked", "100611", "200001", "people", "nsAccountLock: TRUE\n") +
        user_ldif(s, "pplocked", "100612", "200001", "people", "pwdAccountLockedTime: 000001010000Z\n") +
        user_ldif(s, "timedlock", "100613", "200001", "people", "pwdAccountLockedTime: 20250101000000Z\n")))
        << read_file(s.dir() + "/change.out");
    // The directory itself does not refuse the locked accounts (no ppolicy
    // overlay here, and slapd knows nothing of nsAccountLock): fastid must.
    // (timedlock stands for all three: nothing else binds as it but fastid,
    // which must bind to let the overlay lift a lock that is over.)
    ASSERT_EQ(run("ldapwhoami -x -H " + s.uri() + " -D uid=timedlock,ou=people," + s.base() +
                  " -w pw-timedlock >/dev/null 2>&1").exit_code, 0);
    tls_ = start("start_tls = true\ntls_ca_file = \"" + s.ca_file() + "\"\nmin_id = 1000\n");
    plain_ = start("");
    allowed_ = start("allow_cleartext_passwords = true\n");
  }
  static void TearDownTestSuite() {
    for (Daemon** d : {&tls_, &plain_, &allowed_}) {
      delete *d;
      *d = nullptr;
    }
    delete slapd_;
    slapd_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
    for (Daemon* d : {tls_, plain_, allowed_}) ASSERT_TRUE(d != nullptr && d->answers());
  }

  // A daemon with one LDAP provider "corp" on the fixture's plain URI,
  // `extra` added to the provider.
  static Daemon* start(const std::string& extra) {
    auto* d = new Daemon(1, 1);
    d->write_config("[daemon]\nsocket_dir = \"" + d->socket_dir() + "\"\nstate_dir = \"" + d->dir() +
                    "/state\"\nlog_level = \"info\"\n" + slapd_->provider_toml(extra));
    set_up_pam(*d, kService);
    EXPECT_TRUE(d->start()) << d->log();
    return d;
  }

  static CommandResult pam(const Daemon& d, const std::string& user, const std::string& steps = "authenticate") {
    return pamtester(d, kService, user, Slapd::password_of(user), steps);
  }
  // Whether slapd was ever asked to bind as uid=NAME (any OU).
  static bool bound_as(const std::string& name) {
    return has(read_file(slapd_->log_path()), "BIND dn=\"uid=" + name + ",");
  }

  static Slapd* slapd_;
  static Daemon* tls_;      // start_tls, min_id = 1000
  static Daemon* plain_;    // ldap:// without TLS, defaults
  static Daemon* allowed_;  // ldap:// without TLS, allow_cleartext_passwords = true
};
Slapd* LdapSecurityTest::slapd_ = nullptr;
Daemon* LdapSecurityTest::tls_ = nullptr;
Daemon* LdapSecurityTest::plain_ = nullptr;
Daemon* LdapSecurityTest::allowed_ = nullptr;

// Attack: read users' passwords off the wire between fastidd and an ldap://
// server. Over plain LDAP the bind is refused before anything is sent
// (PAM_AUTHINFO_UNAVAIL, a log line that says why); StartTLS works; the
// setting lets it through, with a warning at start.
TEST_F(LdapSecurityTest, NoPasswordBindOverPlainLdapUnlessAllowed) {
  auto plain = pam(*plain_, "user00011");
  EXPECT_TRUE(has(plain.out, kUnavail)) << plain.out;
  EXPECT_FALSE(has(plain.out, kSuccess)) << plain.out;
  EXPECT_FALSE(bound_as("user00011")) << "the password went to slapd in clear";
  const std::string log = plain_->log();
  EXPECT_TRUE(has(log, "refusing to send the password of \"user00011\" over an unencrypted connection")) << log;
  EXPECT_TRUE(has(log, "authentication will not use " + slapd_->uri())) << log;
  EXPECT_TRUE(has(log, "the password of bind_dn goes in clear to " + slapd_->uri())) << log;

  auto tls = pam(*tls_, "user00012", "authenticate acct_mgmt");
  EXPECT_EQ(tls.exit_code, 0) << tls.out;
  EXPECT_TRUE(has(tls.out, kSuccess)) << tls.out;
  EXPECT_TRUE(bound_as("user00012"));

  auto allowed = pam(*allowed_, "user00013");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out;
  EXPECT_TRUE(has(allowed.out, kSuccess)) << allowed.out;
  EXPECT_TRUE(has(allowed_->log(), "allow_cleartext_passwords: users' passwords go in clear to")) << allowed_->log();
}

// Attack: whoever may write the directory makes an account with uidNumber 0
// (root on every machine that trusts it), or with a system account's id, or
// a group with gid 0. None of them comes out; the log names each refusal.
TEST_F(LdapSecurityTest, RootAndOutOfRangeIdsFromTheDirectoryAreNotFound) {
  for (const char* q : {"passwd toor", "passwd 0", "passwd lowuid", "passwd 500", "passwd gidzero",
                        "group rootgrp", "group 0"}) {
    auto r = tls_->getent(q);
    EXPECT_EQ(r.exit_code, 2) << q << " came out: " << r.out;
  }
  // uid 0 is refused whatever the range: the daemon with the default min_id too.
  EXPECT_EQ(plain_->getent("passwd toor").exit_code, 2);
  EXPECT_EQ(plain_->getent("group rootgrp").exit_code, 2);
  EXPECT_EQ(plain_->getent("passwd lowuid").exit_code, 0) << "500 is inside the default range";
  // user00001 is listed in rootgrp (gid 0): that gid is not among its groups.
  auto groups = tls_->getent("initgroups user00001");
  EXPECT_EQ(groups.exit_code, 0) << groups.out;
  EXPECT_FALSE(has(groups.out + " ", " 0 ")) << groups.out;
  auto all = tls_->getent("passwd");
  EXPECT_FALSE(has(all.out, "toor:")) << all.out;
  EXPECT_FALSE(has(all.out, "lowuid:"));
  EXPECT_FALSE(has(all.out, "gidzero:"));
  EXPECT_TRUE(has(all.out, "user00001:"));
  // And no authentication for them either.
  EXPECT_FALSE(has(pam(*tls_, "toor").out, kSuccess));
  const std::string log = tls_->log();
  EXPECT_TRUE(has(log, "provider corp: user \"toor\" refused: uid 0: id 0 (root) is never taken from a directory"))
      << log;
  EXPECT_TRUE(has(log, "user \"lowuid\" refused: uid 500: id below min_id")) << log;
  EXPECT_TRUE(has(log, "user \"gidzero\" refused: gid 0: id 0 (root)")) << log;
  EXPECT_TRUE(has(log, "group \"rootgrp\" refused: gid 0: id 0 (root)")) << log;
  EXPECT_TRUE(has(log, "gid 0 in the groups of \"user00001\" refused")) << log;
}

// Attack: add a second entry named like an existing user (elsewhere under the
// base) and hope to be picked — for NSS or for the bind. The name is
// ambiguous: not found, and slapd never sees a bind as either entry.
TEST_F(LdapSecurityTest, TwoEntriesWithOneNameAreNeitherServedNorBound) {
  auto r = tls_->getent("passwd twin");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  auto auth = pam(*tls_, "twin");
  EXPECT_FALSE(has(auth.out, kSuccess)) << auth.out;
  EXPECT_FALSE(bound_as("twin")) << "fastid bound as one of the two entries";
  EXPECT_TRUE(has(tls_->log(), "2 user entries named \"twin\"")) << tls_->log();
  // Looked up by its uid, each entry is one user with one name: unambiguous.
  EXPECT_EQ(tls_->getent("passwd 100601").exit_code, 0);
}

// Attack: log in to an account the directory has locked, where the server
// does not enforce the lock itself (no ppolicy overlay, nsAccountLock unknown
// to slapd). Authentication is refused (no bind for a permanent lock) and
// the account check says PAM_PERM_DENIED; an unlocked user is unaffected.
TEST_F(LdapSecurityTest, AccountsLockedInTheDirectoryAreRefused) {
  for (const char* user : {"nslocked", "pplocked", "timedlock"}) {
    auto auth = pam(*tls_, user);
    EXPECT_TRUE(has(auth.out, kAuthErr)) << user << ": " << auth.out;
    EXPECT_FALSE(has(auth.out, kSuccess)) << user << ": " << auth.out;
    auto account = pam(*tls_, user, "acct_mgmt");
    EXPECT_TRUE(has(account.out, kPermDenied)) << user << ": " << account.out;
    EXPECT_NE(account.exit_code, 0) << user;
  }
  EXPECT_FALSE(bound_as("nslocked"));
  EXPECT_FALSE(bound_as("pplocked"));
  const std::string log = tls_->log();
  EXPECT_TRUE(has(log, "user \"nslocked\" refused: account disabled in the directory (nsAccountLock)")) << log;
  EXPECT_TRUE(has(log, "user \"timedlock\" refused: account locked in the directory by its password policy"))
      << log;
  auto fine = pam(*tls_, "user00014", "authenticate acct_mgmt");
  EXPECT_EQ(fine.exit_code, 0) << fine.out;
}

}  // namespace
}  // namespace fastid::testing
