// The LDAP provider's SASL GSSAPI bind (issue #18) against a private MIT KDC
// (tests/krb5/kdc-fixture) and a slapd that accepts GSSAPI binds from it
// (tests/ldap/slapd-fixture --gssapi): the provider gets its own ticket from
// a keytab into a private MEMORY: cache, binds as the service account the
// principal maps to, renews the ticket across its lifetime, and names what is
// wrong when the keytab, the principal or the KDC is — an unreachable KDC
// being an outage (kUnavailable), as an unreachable directory is.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "providers/krb5/keytab_credentials.h"
#include "providers/ldap/ldap_provider.h"
#include "support/kdc_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::providers {
namespace {

using core::Code;
using testing::Kdc;
using testing::Slapd;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class Krb5LdapTest : public ::testing::Test {
 protected:
  static Kdc* kdc;
  static Slapd* slapd;

  static void SetUpTestSuite() {
    kdc = new Kdc();
    ASSERT_TRUE(kdc->started()) << kdc->error();
    // This process's libkrb5 reads the realm's krb5.conf, never the host's.
    ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
    ::setenv("KRB5CCNAME", ("FILE:" + kdc->dir() + "/must-not-be-used").c_str(), 1);
    slapd = new Slapd({.gssapi_kdc_dir = kdc->dir(), .users = 50, .groups = 10, .log = true});
    ASSERT_TRUE(slapd->started()) << slapd->error();
  }
  static void TearDownTestSuite() {
    delete slapd;
    delete kdc;
    slapd = nullptr;
    kdc = nullptr;
  }
  void SetUp() override {
    if (kdc == nullptr || !kdc->started() || slapd == nullptr || !slapd->started()) GTEST_SKIP();
  }

  static LdapProvider::Options gssapi_options() {
    LdapProvider::Options o;
    o.name = "corp";
    o.uris = {slapd->gssapi_uri()};
    o.base = slapd->base();
    o.sasl_mech = "GSSAPI";
    o.keytab = kdc->fastid_keytab();
    o.principal = "fastid/localhost";
    o.network_timeout = std::chrono::milliseconds(2000);
    o.search_timeout = std::chrono::milliseconds(10000);
    return o;
  }
};
Kdc* Krb5LdapTest::kdc = nullptr;
Slapd* Krb5LdapTest::slapd = nullptr;

TEST_F(Krb5LdapTest, BindsWithItsOwnTicketAsTheServiceAccountAndServesLookups) {
  slapd->clear_log();
  LdapProvider p(gssapi_options());
  ASSERT_TRUE(p.open().ok()) << p.open().to_string();
  auto u = p.user_by_name("user00001");
  ASSERT_TRUE(u.has_value()) << u.error().to_string();
  EXPECT_EQ(u->uid, 100001u);
  auto g = p.initgroups("user00001");
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  // slapd saw a GSSAPI bind mapped to the service account, not an anonymous one.
  const std::string log = read_file(slapd->log_path());
  EXPECT_NE(log.find("BIND dn=\"cn=fastid-service,ou=services,dc=fastid,dc=test\" mech=GSSAPI"), std::string::npos)
      << log;
  // No ticket cache was written anywhere: KRB5CCNAME was not touched.
  EXPECT_FALSE(std::filesystem::exists(kdc->dir() + "/must-not-be-used"));
  bool saw_tickets = false;
  for (const auto& [k, v] : p.stats()) {
    if (k == "tickets_obtained") {
      saw_tickets = true;
      EXPECT_EQ(v, "1");
    }
  }
  EXPECT_TRUE(saw_tickets);
}

TEST_F(Krb5LdapTest, TwoInstancesHaveTwoPrivateMemoryCaches) {
  krb5::KeytabCredentials a({.keytab = kdc->fastid_keytab(), .principal = "fastid/localhost", .what = ""});
  krb5::KeytabCredentials b({.keytab = kdc->fastid_keytab(), .principal = "fastid/localhost", .what = ""});
  ASSERT_TRUE(a.ensure_ticket().ok());
  ASSERT_TRUE(b.ensure_ticket().ok());
  EXPECT_EQ(a.cache_name().rfind("MEMORY:", 0), 0u) << a.cache_name();
  EXPECT_NE(a.cache_name(), b.cache_name());
  EXPECT_EQ(a.principal_name(), "fastid/localhost@" + kdc->realm());
}

TEST_F(Krb5LdapTest, OpenNamesAMissingKeytabAWrongPrincipalAndAnUnknownOne) {
  {
    auto o = gssapi_options();
    o.keytab = kdc->dir() + "/no-such.keytab";
    const Status st = LdapProvider(o).open();
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_NE(st.message().find("keytab " + o.keytab + ": cannot be read"), std::string::npos) << st.message();
  }
  {
    // A principal the keytab holds no key for.
    auto o = gssapi_options();
    o.principal = "host/localhost";
    const Status st = LdapProvider(o).open();
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_NE(st.message().find("holds no key for principal host/localhost@" + kdc->realm()), std::string::npos)
        << st.message();
  }
  {
    // The key of another principal: the keytab of host/localhost asked for fastid/localhost.
    auto o = gssapi_options();
    o.keytab = kdc->host_keytab();
    const Status st = LdapProvider(o).open();
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_NE(st.message().find("holds no key for principal fastid/localhost@"), std::string::npos) << st.message();
  }
  {
    auto o = gssapi_options();
    o.sasl_mech = "DIGEST-MD5";
    const Status st = LdapProvider(o).open();
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_NE(st.message().find("sasl_mech"), std::string::npos) << st.message();
  }
  {
    auto o = gssapi_options();
    o.bind_dn = slapd->bind_dn();
    const Status st = LdapProvider(o).open();
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_NE(st.message().find("bind_dn"), std::string::npos) << st.message();
  }
}

// A key the KDC no longer has (the principal's keys changed since the keytab
// was written): a refusal that names the keytab, not an outage.
TEST_F(Krb5LdapTest, AStaleKeytabIsRefusedByTheKdc) {
  ASSERT_TRUE(kdc->kadmin("addprinc -randkey stale/localhost")) << kdc->error();
  const std::string kt = kdc->dir() + "/stale.keytab";
  ASSERT_TRUE(kdc->kadmin("ktadd -k " + kt + " stale/localhost")) << kdc->error();
  ASSERT_TRUE(kdc->kadmin("cpw -randkey stale/localhost")) << kdc->error();
  auto o = gssapi_options();
  o.keytab = kt;
  o.principal = "stale/localhost";
  const Status st = LdapProvider(o).open();
  EXPECT_EQ(st.code(), Code::kPermissionDenied) << st.to_string();
  EXPECT_NE(st.message().find(kt), std::string::npos) << st.message();
}

// The KDC down: open() is kUnavailable (the pool's workers start, the store
// serves, as for a directory that does not answer); back when the KDC is.
TEST_F(Krb5LdapTest, AnUnreachableKdcIsAnOutageAndTheProviderComesBack) {
  ASSERT_TRUE(kdc->stop()) << kdc->error();
  LdapProvider p(gssapi_options());
  const Status st = p.open();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("no KDC of the realm answered"), std::string::npos) << st.message();
  auto down = p.user_by_name("user00002");
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code(), Code::kUnavailable) << down.error().to_string();
  ASSERT_TRUE(kdc->restart()) << kdc->error();
  auto up = p.user_by_name("user00002");
  ASSERT_TRUE(up.has_value()) << up.error().to_string();
  EXPECT_EQ(up->uid, 100002u);
}

// Tickets of 8 seconds: a connection made after the first ticket has expired
// binds with a new one the provider got itself.
TEST_F(Krb5LdapTest, TheTicketIsRenewedAcrossItsLifetime) {
  ASSERT_TRUE(kdc->kadmin("modprinc -maxlife \"8 seconds\" fastid/localhost")) << kdc->error();
  LdapProvider p(gssapi_options());
  ASSERT_TRUE(p.open().ok());
  auto tickets = [&] {
    for (const auto& [k, v] : p.stats())
      if (k == "tickets_obtained") return std::stoi(v);
    return -1;
  };
  EXPECT_EQ(tickets(), 1);
  const std::string kdc_log = kdc->dir() + "/krb5kdc.log";
  const int as_reqs_before = count_of(read_file(kdc_log), "AS_REQ");
  // Wait (up to 30 s) until the first ticket has certainly expired.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::time_t first_end = 0;
  {
    krb5::KeytabCredentials probe({.keytab = kdc->fastid_keytab(), .principal = "fastid/localhost", .what = ""});
    ASSERT_TRUE(probe.ensure_ticket().ok());
    first_end = probe.ticket_end();
    EXPECT_LE(first_end - std::time(nullptr), 9) << "maxlife not applied";
  }
  while (std::time(nullptr) <= first_end + 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Force a new connection: slapd restarts, the kept connection breaks.
  ASSERT_TRUE(slapd->restart()) << slapd->error();
  auto u = p.user_by_name("user00003");
  ASSERT_TRUE(u.has_value()) << u.error().to_string();
  EXPECT_EQ(tickets(), 2);
  EXPECT_GT(count_of(read_file(kdc_log), "AS_REQ"), as_reqs_before);
  ASSERT_TRUE(kdc->kadmin("modprinc -maxlife \"2 minutes\" fastid/localhost")) << kdc->error();
}

}  // namespace
}  // namespace fastid::providers
