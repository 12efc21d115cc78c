// Kerberos password authentication through real PAM (issue #18): pamtester
// with a private pam.d in a mount namespace (support/pam_fixture.h), fastidd
// whose files provider has `auth_provider = "krb5"`, and the private KDC of
// tests/krb5/kdc-fixture. The KDC decides the password; its ticket must
// verify against the host keytab (a second KDC for the same realm, with its
// own idea of the user's password, is refused); the ticket is left in a new
// cache file owned by the user, mode 0600, that klist reads; a cache
// directory reached through a symbolic link or writable by everyone without
// the sticky bit gets no cache. Needs root (mount namespaces, chown).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "support/krb5_pam_fixture.h"

namespace fastid::testing {
namespace {

constexpr const char* kUserPw = "Kerberos-pw.10";

class Krb5PamTest : public Krb5PamSuite<Krb5PamTest> {
 public:
  static constexpr const char* kCachePrefix = "/tmp/fastid-krb5cc-";
  static Kdc::Options kdc_options() { return {.users = {{"user00010", kUserPw}, {"user00012", "Expiring-pw.12"}}}; }
};

TEST_F(Krb5PamTest, TheKdcDecidesAndTheUserGetsATicketInACacheOfTheirOwn) {
  PamDaemon d("");
  d.write_config(krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX"));
  ASSERT_TRUE(d.start()) << d.log();
  auto ok = d.pamtester("fastid-test", "user00010", kUserPw);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << d.log();
  EXPECT_NE(ok.out.find("successfully authenticated"), std::string::npos) << ok.out;
  const std::string cache = cache_logged(d, "user00010");
  ASSERT_FALSE(cache.empty()) << d.log();
  EXPECT_EQ(cache.rfind(cache_dir_ + "/krb5cc_100010_", 0), 0u) << cache;
  struct stat st{};
  ASSERT_EQ(::lstat(cache.c_str(), &st), 0) << cache;
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, 100010u);
  EXPECT_EQ(st.st_gid, d.dataset.primary_gid.at("user00010"));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The user's own klist reads the user's TGT from it (reading a cache needs
  // no krb5.conf; the realm's is in a folder only root may enter).
  auto klist = run("setpriv --reuid=100010 --regid=100010 --clear-groups env KRB5_CONFIG=/dev/null "
                   "klist -c FILE:" + cache + " 2>&1");
  EXPECT_EQ(klist.exit_code, 0) << klist.out;
  EXPECT_NE(klist.out.find("Default principal: user00010@" + kdc->realm()), std::string::npos) << klist.out;
  EXPECT_NE(klist.out.find("krbtgt/" + kdc->realm() + "@" + kdc->realm()), std::string::npos) << klist.out;
  // A second login: a new file, never the first one reused.
  ASSERT_EQ(d.pamtester("fastid-test", "user00010", kUserPw).exit_code, 0);
  EXPECT_NE(cache_logged(d, "user00010"), cache);

  auto wrong = d.pamtester("fastid-test", "user00010", "Not-the-pw.1");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.out.find("Authentication failure"), std::string::npos) << wrong.out;
  // Known to the files provider, unknown to the KDC.
  auto unknown = d.pamtester("fastid-test", "user00011", "Whatever-pw.11");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.out.find("User not known"), std::string::npos) << unknown.out;
  // Passwords never reach the log.
  EXPECT_EQ(d.log().find(kUserPw), std::string::npos);
  EXPECT_EQ(d.log().find("Not-the-pw.1"), std::string::npos);
}

// An expired password, proved right by a kadmin/changepw ticket, is
// PAM_NEW_AUTHTOK_REQD at acct_mgmt (authentication defers it, as pam_unix
// does for shadow aging), which leads into chauthtok; a wrong password is
// an authentication failure, never "expired".
TEST_F(Krb5PamTest, AnExpiredPasswordIsReportedOnlyOnceTheOldOneProvedRight) {
  ASSERT_TRUE(kdc->kadmin("modprinc -pwexpire yesterday user00012")) << kdc->error();
  PamDaemon d("");
  d.write_config(krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX"));
  ASSERT_TRUE(d.start()) << d.log();
  auto right = d.pamtester("fastid-test", "user00012", "Expiring-pw.12", "authenticate acct_mgmt");
  EXPECT_NE(right.exit_code, 0) << right.out;
  EXPECT_TRUE(has(right, kNewToken)) << right.out;
  EXPECT_NE(d.log().find("the password of user00012@" + kdc->realm() + " has expired"), std::string::npos)
      << d.log();
  // The KDC says "expired" to a wrong password too; fastid does not say so to it.
  const std::size_t before = d.log().size();
  auto wrong = d.pamtester("fastid-test", "user00012", "Wrong-guess.12", "authenticate acct_mgmt");
  EXPECT_NE(wrong.exit_code, 0) << wrong.out;
  EXPECT_TRUE(has(wrong, kAuthErr)) << wrong.out;
  EXPECT_EQ(d.log().substr(before).find("has expired"), std::string::npos) << d.log().substr(before);
  EXPECT_TRUE(cache_logged(d, "user00012").empty());
}

// The attack: a KDC that is not the realm's (DNS or the network redirected
// to it) answers for the realm and accepts a password the attacker chose. The
// ticket it issues cannot verify against the host keytab of the real realm.
TEST_F(Krb5PamTest, ASpoofedKdcThatAcceptsAnyPasswordIsRefused) {
  Kdc spoof({.users = {{"user00010", "Attacker-pw.1"}}});
  ASSERT_TRUE(spoof.started()) << spoof.error();
  PamDaemon d("");
  d.write_config(krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX"));
  ::setenv("KRB5_CONFIG", spoof.krb5_config().c_str(), 1);  // fastidd asks the spoofed KDC
  const bool started = d.start();
  ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
  ASSERT_TRUE(started) << d.log();
  auto r = d.pamtester("fastid-test", "user00010", "Attacker-pw.1");
  EXPECT_NE(r.exit_code, 0) << "a spoofed KDC let the attacker in: " << r.out;
  EXPECT_NE(d.log().find("does not verify against krb5_keytab " + kdc->host_keytab()), std::string::npos)
      << d.log();
  EXPECT_TRUE(cache_logged(d, "user00010").empty());
}

// The cache directory reached through a symbolic link (to /etc, say), or
// one everyone may write without the sticky bit (anyone could rename the
// file away and put a link in its place): no cache is written there.
TEST_F(Krb5PamTest, ACacheDirectoryThroughALinkOrWithoutStickyBitIsRefused) {
  const std::string target = cache_dir_ + "/target";
  fs::create_directories(target);
  fs::create_symlink(target, cache_dir_ + "/link");
  const std::string open_dir = cache_dir_ + "/open";
  fs::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 0777);
  for (const std::string& dir : {cache_dir_ + "/link", open_dir}) {
    PamDaemon d("");
    d.write_config(krb5_config(d, *kdc, "FILE:" + dir + "/krb5cc_%U_XXXXXX"));
    ASSERT_TRUE(d.start()) << d.log();
    auto r = d.pamtester("fastid-test", "user00010", kUserPw);
    EXPECT_EQ(r.exit_code, 0) << "the password is right: " << r.out;
    EXPECT_TRUE(cache_logged(d, "user00010").empty()) << d.log();
    EXPECT_NE(d.log().find("no ticket cache for \"user00010\""), std::string::npos) << d.log();
    EXPECT_TRUE(fs::is_empty(target));
    EXPECT_TRUE(fs::is_empty(open_dir));
  }
}

// `fastidd --check-config` (and the start) names a verification keytab that
// is missing, rather than letting logins through unverified.
TEST_F(Krb5PamTest, CheckConfigNamesAMissingKeytabAndABadCachePattern) {
  PamDaemon d("");
  auto check = [&](const std::string& config, const std::string& words) {
    d.write_config(config);
    auto r = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find(words), std::string::npos) << r.out << "\nwanted: " << words;
  };
  std::string missing = krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX");
  missing.replace(missing.find(kdc->host_keytab()), kdc->host_keytab().size(), kdc->dir() + "/gone.keytab");
  check(missing, "krb5_keytab " + kdc->dir() + "/gone.keytab: cannot be read");
  check(krb5_config(d, *kdc, "KEYRING:session:%U"),
        "only FILE:/path/..._XXXXXX and KEYRING:persistent:%U caches are supported");
  std::string in_process = krb5_config(d, *kdc, "FILE:" + cache_dir_ + "/krb5cc_%U_XXXXXX");
  in_process.replace(in_process.find("auth_provider"), 0, "isolation = \"none\"\n");
  check(in_process, "isolation must be process or auto");
}

}  // namespace
}  // namespace fastid::testing
