// fastidd with an LDAP provider that binds with SASL GSSAPI from a keytab
// (issue #18), against the private KDC (tests/krb5/kdc-fixture) and slapd
// (--gssapi), through real glibc: `fastidd --check-config` names a missing
// keytab, a principal the keytab has no key for and a KDC that does not
// answer; the daemon serves lookups over the GSSAPI-bound connection; with the
// KDC stopped and the ticket expired the directory is offline (stored records
// answer, an unknown name is an error, not "no such user"), and it is back
// online once the KDC returns. The realm's krb5.conf reaches fastidd and its
// provider workers through KRB5_CONFIG, set in this process before they start.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <ctime>
#include <string>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/kdc_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

std::string daemon_toml(const Daemon& d) {
  return "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
         "/state\"\nlog_level = \"info\"\n";
}

std::string gssapi_provider_toml(const Slapd& s, const std::string& keytab,
                                 const std::string& principal) {
  return "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"" + s.gssapi_uri() + "\"]\nbase = \"" +
         s.base() + "\"\nsasl_mech = \"GSSAPI\"\nkeytab = \"" + keytab + "\"\nprincipal = \"" + principal +
         "\"\nnetwork_timeout = \"2s\"\n";
}

class Krb5SystemTest : public ::testing::Test {
 protected:
  static Kdc* kdc;
  static Slapd* slapd;

  static void SetUpTestSuite() {
    kdc = new Kdc();
    if (!kdc->started()) return;
    ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
    slapd = new Slapd({.gssapi_kdc_dir = kdc->dir(), .users = 50, .groups = 10, .log = true});
  }
  static void TearDownTestSuite() {
    delete slapd;
    delete kdc;
    slapd = nullptr;
    kdc = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(kdc != nullptr && kdc->started()) << (kdc ? kdc->error() : "");
    ASSERT_TRUE(slapd != nullptr && slapd->started()) << slapd->error();
  }
};
Kdc* Krb5SystemTest::kdc = nullptr;
Slapd* Krb5SystemTest::slapd = nullptr;

TEST_F(Krb5SystemTest, CheckConfigNamesAMissingKeytabAWrongPrincipalAndADownKdc) {
  Daemon d(1, 1);
  auto check = [&](const std::string& provider, int want_exit, const std::string& words) {
    d.write_config(daemon_toml(d) + provider);
    auto r = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
    EXPECT_EQ(r.exit_code == 0, want_exit == 0) << r.out;
    EXPECT_NE(r.out.find(words), std::string::npos) << r.out << "\nwanted: " << words;
  };
  check(gssapi_provider_toml(*slapd, kdc->fastid_keytab(), "fastid/localhost"), 0, "is valid");
  check(gssapi_provider_toml(*slapd, kdc->dir() + "/missing.keytab", "fastid/localhost"), 1,
        "keytab " + kdc->dir() + "/missing.keytab: cannot be read");
  check(gssapi_provider_toml(*slapd, kdc->fastid_keytab(), "someone/localhost"), 1,
        "holds no key for principal someone/localhost@" + kdc->realm());
  ASSERT_TRUE(kdc->stop()) << kdc->error();
  check(gssapi_provider_toml(*slapd, kdc->fastid_keytab(), "fastid/localhost"), 1,
        "no KDC of the realm answered");
  ASSERT_TRUE(kdc->restart()) << kdc->error();
}

TEST_F(Krb5SystemTest, ServesThroughAGssapiBindAndRidesOutAKdcOutage) {
  // Tickets of 8 seconds, so that the outage outlives the one the workers hold.
  ASSERT_TRUE(kdc->kadmin("modprinc -maxlife \"8 seconds\" fastid/localhost")) << kdc->error();
  Daemon d(1, 1);
  d.write_config(daemon_toml(d) + "\n[store]\nprobe_interval = \"200ms\"\n" +
                 gssapi_provider_toml(*slapd, kdc->fastid_keytab(), "fastid/localhost"));
  slapd->clear_log();
  ASSERT_TRUE(d.start()) << d.log();
  auto first = d.getent("passwd user00001");
  EXPECT_EQ(first.exit_code, 0) << first.out << d.log();
  EXPECT_NE(first.out.find("user00001:x:100001:"), std::string::npos) << first.out;
  EXPECT_NE(read_file(slapd->log_path()).find("dn=\"cn=fastid-service,ou=services,dc=fastid,dc=test\" mech=GSSAPI"),
            std::string::npos);

  ASSERT_TRUE(kdc->stop()) << kdc->error();
  // Every ticket a worker got before the stop has expired 10 s from now.
  const std::time_t all_expired = std::time(nullptr) + 10;
  while (std::time(nullptr) <= all_expired) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_TRUE(slapd->restart()) << slapd->error();  // the kept connections break
  auto down = run(d.env() + bin_dir() + "/nss_query passwd user00003 2>&1");
  EXPECT_EQ(down.exit_code, 1) << "an outage is not \"no such user\": " << down.out;
  EXPECT_EQ(d.getent("passwd user00001").exit_code, 0) << "stored records answer while offline";
  EXPECT_NE(d.log().find("no KDC of the realm answered"), std::string::npos) << d.log();

  ASSERT_TRUE(kdc->restart()) << kdc->error();
  int exit_code = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (exit_code != 0 && std::chrono::steady_clock::now() < deadline) {
    exit_code = d.getent("passwd user00003").exit_code;
    if (exit_code != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(exit_code, 0) << d.log();
  ASSERT_TRUE(kdc->kadmin("modprinc -maxlife \"2 minutes\" fastid/localhost")) << kdc->error();
}

}  // namespace
}  // namespace fastid::testing
