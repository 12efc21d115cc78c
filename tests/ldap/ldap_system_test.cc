// fastidd serving a real slapd (tests/ldap/slapd-fixture), checked through
// real glibc: getent -s fastid, the tests/system glibc programs and
// nss_membership. Lookups equal the dataset and ldapsearch, initgroups and
// enumeration for both schemas, membership consistency, hostile data, TLS,
// configuration errors at --check-config, reconnect, and the scale cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

// A group line with its members as a set (the server's order is its own).
std::pair<std::string, std::set<std::string>> group_key(const std::string& line) {
  auto f = split(line, ':');
  std::set<std::string> members;
  if (f.size() > 3 && !f[3].empty()) {
    for (const auto& m : split(f[3], ',')) members.insert(m);
  }
  return {f[0] + ":" + (f.size() > 2 ? f[2] : ""), members};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The provider's deadlines are the defaults (network_timeout 5 s, search_timeout
// and request_timeout 10 s) times FASTID_TEST_TIME_SCALE: unchanged in
// `make test`, 10 times longer under memcheck (`make valgrind`).
std::string ldap_provider_toml(const Slapd& s, const std::string& schema, const std::string& extra = "") {
  return "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\n" + ldap_mode_keys() + "uri = [\"" + s.uri() + "\"]\nbase = \"" +
         s.base() + "\"\nbind_dn = \"" + s.bind_dn() + "\"\nbind_password_file = \"" +
         s.bind_password_file() + "\"\nschema = \"" + schema + "\"\npage_size = 97\nsearch_timeout = \"" +
         scaled_duration(std::chrono::seconds(10)) + "\"\n" +
         Slapd::timeout_keys(std::chrono::seconds(5), std::chrono::seconds(10)) + extra;
}

std::string daemon_toml(const Daemon& d) {
  return "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
         "/state\"\nlog_level = \"info\"\n";
}

// A daemon serving one slapd.
struct Served {
  std::unique_ptr<Daemon> daemon;
  bool start(const Slapd& s, const std::string& schema, const std::string& extra = "",
             const std::string& sections = "") {
    daemon = std::make_unique<Daemon>(1, 1);
    daemon->write_config(daemon_toml(*daemon) + sections + ldap_provider_toml(s, schema, extra));
    return daemon->start();
  }
};

class LdapSystemTest : public ::testing::Test {
 public:
  static Slapd* slapd[2];  // rfc2307, rfc2307bis
  static Dataset* expected[2];  // gen-ldif's expected/passwd and expected/group
  static Served* served[2];
  static constexpr const char* kSchema[2] = {"rfc2307", "rfc2307bis"};

 protected:
  static void SetUpTestSuite() {
    if (slapd[0] != nullptr) return;
    for (int i = 0; i < 2; ++i) {
      slapd[i] = new Slapd({.schema = kSchema[i], .tls = i == 0, .log = true});
      if (!slapd[i]->started()) continue;
      expected[i] = new Dataset(slapd[i]->data_dir() + "/expected");
      served[i] = new Served;
      // The rfc2307 server has TLS: its daemon uses StartTLS, so that
      // authentication (which refuses plain ldap://) works there.
      served[i]->start(*slapd[i], kSchema[i],
                       i == 0 ? "start_tls = true\ntls_ca_file = \"" + slapd[i]->ca_file() + "\"\n" : "");
    }
  }
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(slapd[i]->started()) << slapd[i]->error();
      ASSERT_TRUE(served[i]->daemon && served[i]->daemon->answers()) << served[i]->daemon->log();
    }
  }
};
Slapd* LdapSystemTest::slapd[2] = {nullptr, nullptr};
Dataset* LdapSystemTest::expected[2] = {nullptr, nullptr};
Served* LdapSystemTest::served[2] = {nullptr, nullptr};

struct StopAll : ::testing::Environment {
  void TearDown() override {
    for (int i = 0; i < 2; ++i) {
      delete LdapSystemTest::served[i];
      delete LdapSystemTest::slapd[i];
    }
  }
};
[[maybe_unused]] auto* const kStopAll = ::testing::AddGlobalTestEnvironment(new StopAll);

std::vector<std::string> sample(const std::map<std::string, std::string>& m, std::size_t step) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (const auto& kv : m) {
    if (i++ % step == 0) out.push_back(kv.first);
  }
  return out;
}

TEST_F(LdapSystemTest, UsersAndGroupsThroughGlibcEqualTheDatasetAndLdapsearch) {
  for (int i = 0; i < 2; ++i) {
    const Daemon& d = *served[i]->daemon;
    const Dataset& e = *expected[i];
    for (const auto& name : sample(e.passwd_by_name, 211)) {
      auto r = d.getent("passwd " + name);
      ASSERT_EQ(r.exit_code, 0) << kSchema[i] << " " << name << ": " << r.out;
      EXPECT_EQ(trim(r.out), e.passwd_by_name.at(name));
      const std::string uid = split(e.passwd_by_name.at(name), ':')[2];
      auto by_uid = d.getent("passwd " + uid);
      EXPECT_EQ(trim(by_uid.out), e.passwd_by_name.at(name));
      // What ldapsearch shows for the same entry.
      const std::string ldif = slapd[i]->ldapsearch("'(uid=" + name + ")' uidNumber homeDirectory");
      EXPECT_NE(ldif.find("uidNumber: " + uid + "\n"), std::string::npos) << ldif;
      EXPECT_NE(ldif.find("homeDirectory: " + split(e.passwd_by_name.at(name), ':')[5] + "\n"), std::string::npos);
    }
    for (const auto& name : sample(e.group_by_name, 29)) {
      auto r = d.getent("group " + name);
      ASSERT_EQ(r.exit_code, 0) << kSchema[i] << " " << name << ": " << r.out;
      EXPECT_EQ(group_key(trim(r.out)), group_key(e.group_by_name.at(name))) << kSchema[i] << " " << name;
      auto by_gid = d.getent("group " + split(e.group_by_name.at(name), ':')[2]);
      EXPECT_EQ(group_key(trim(by_gid.out)), group_key(e.group_by_name.at(name)));
    }
    EXPECT_EQ(d.getent("passwd nosuchuser").exit_code, 2);
    EXPECT_EQ(d.getent("group nosuchgroup").exit_code, 2);
  }
}

TEST_F(LdapSystemTest, InitgroupsThroughGlibcEqualsTheDirectoryIncludingNesting) {
  for (int i = 0; i < 2; ++i) {
    const Daemon& d = *served[i]->daemon;
    const Dataset& e = *expected[i];
    std::vector<std::string> users = sample(e.passwd_by_name, 173);
    // Members of nested groups (group0201 is in group0101, which is in group0001).
    for (const auto* extra : {"user00267", "user00201", "user00998"}) users.push_back(extra);
    for (const auto& name : users) {
      auto r = run(d.env() + bin_dir() + "/nss_query groups " + name);
      ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out;
      std::set<unsigned> got;
      for (const auto& g : split(trim(r.out), ' ')) {
        if (!g.empty()) got.insert(static_cast<unsigned>(std::stoul(g)));
      }
      std::set<unsigned> want = e.groups_of.count(name) ? e.groups_of.at(name) : std::set<unsigned>{};
      want.insert(e.primary_gid.at(name));
      EXPECT_EQ(got, want) << kSchema[i] << " " << name;
    }
  }
  // The nested case is really nested: user00267 is a direct member of group0267
  // only through the spread; check one chain explicitly in rfc2307bis.
  const Dataset& bis = *expected[1];
  const auto& chain_member = group_key(bis.group_by_name.at("group0201")).second;
  ASSERT_FALSE(chain_member.empty());
  const std::string someone = *chain_member.begin();
  auto r = run(served[1]->daemon->env() + bin_dir() + "/nss_query groups " + someone);
  EXPECT_NE((" " + trim(r.out) + " ").find(" 200001 "), std::string::npos) << someone << ": " << r.out;
}

TEST_F(LdapSystemTest, EnumerationListsEveryEntryOnceWithPagesSmallerThanTheDataset) {
  for (int i = 0; i < 2; ++i) {
    const Daemon& d = *served[i]->daemon;
    const Dataset& e = *expected[i];
    auto pw = d.getent("passwd");
    ASSERT_EQ(pw.exit_code, 0);
    std::multiset<std::string> names;
    for (const auto& line : split(trim(pw.out), '\n')) {
      auto f = split(line, ':');
      names.insert(f[0]);
      ASSERT_TRUE(e.passwd_by_name.count(f[0])) << "unexpected: " << line;
      EXPECT_EQ(line, e.passwd_by_name.at(f[0]));
    }
    EXPECT_EQ(names.size(), e.passwd_by_name.size()) << kSchema[i];
    for (const auto& kv : e.passwd_by_name) EXPECT_EQ(names.count(kv.first), 1u) << kv.first;
    auto gr = d.getent("group");
    ASSERT_EQ(gr.exit_code, 0);
    std::multiset<std::string> groups;
    for (const auto& line : split(trim(gr.out), '\n')) {
      auto key = group_key(line);
      const std::string name = split(line, ':')[0];
      groups.insert(name);
      ASSERT_TRUE(e.group_by_name.count(name)) << "unexpected: " << line.substr(0, 100);
      EXPECT_EQ(key, group_key(e.group_by_name.at(name))) << name;
    }
    EXPECT_EQ(groups.size(), e.group_by_name.size()) << kSchema[i];
    for (const auto& kv : e.group_by_name) EXPECT_EQ(groups.count(kv.first), 1u) << kv.first;
  }
}

TEST_F(LdapSystemTest, MembershipIsConsistentThroughGlibcForEveryUserAndGroup) {
  for (int i = 0; i < 2; ++i) {
#ifdef FASTID_LDAP_SANITIZED
    const std::string every = " -n 7";
#else
    const std::string every = "";
#endif
    auto r = run(served[i]->daemon->env() + bin_dir() + "/nss_membership" + every);
    EXPECT_EQ(r.exit_code, 0) << kSchema[i] << ": " << r.out;
    EXPECT_NE(r.out.find("mismatches 0"), std::string::npos) << r.out;
    std::fprintf(stderr, "[ members  ] %s: %s", kSchema[i], r.out.c_str());
  }
}

TEST_F(LdapSystemTest, HostileEntriesNeverReachAClient) {
  for (int i = 0; i < 2; ++i) {
    const Daemon& d = *served[i]->daemon;
    for (const char* name : {"'bad:colon'", "gecoscolon", "gecosnewline", "negative", "toobig", "nogid",
                             "'bad,comma'", "'*)(uid=*'", "'*'", "'user0000*'"}) {
      auto r = d.getent(std::string("passwd ") + name);
      EXPECT_EQ(r.exit_code, 2) << kSchema[i] << " " << name << " came out: " << r.out;
    }
    for (const char* uid : {"150001", "150002", "150003", "150004", "150007", "150008", "150009"}) {
      EXPECT_EQ(d.getent(std::string("passwd ") + uid).exit_code, 2) << uid;
    }
    for (const char* name : {"'bad:group'", "biggid", "neggid", "'*)(cn=*'", "'group*'"}) {
      EXPECT_EQ(d.getent(std::string("group ") + name).exit_code, 2) << name;
    }
    auto g = d.getent("group hostilemembers");
    EXPECT_EQ(trim(g.out), "hostilemembers:x:250001:user00001");
    EXPECT_TRUE(d.answers()) << "the daemon survived";
  }
}

TEST_F(LdapSystemTest, StartTlsAndLdapsWorkAndAWrongCaFailsCheckConfigSayingWhy) {
  const Slapd& s = *slapd[0];
  Daemon d(1, 1);
  const std::string base = daemon_toml(d);
  d.write_config(base + ldap_provider_toml(s, "rfc2307", "start_tls = true\ntls_ca_file = \"" + s.ca_file() + "\"\n"));
  auto ok = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.getent("passwd user00011").exit_code, 0);
  d.stop();

  Daemon ldaps(1, 1);
  std::string text = daemon_toml(ldaps) + ldap_provider_toml(s, "rfc2307", "tls_ca_file = \"" + s.ca_file() + "\"\n");
  const std::string from = "uri = [\"" + s.uri() + "\"]";
  text.replace(text.find(from), from.size(), "uri = [\"" + s.ldaps_uri() + "\"]");
  ldaps.write_config(text);
  ASSERT_TRUE(ldaps.start()) << ldaps.log();
  EXPECT_EQ(ldaps.getent("passwd user00012").exit_code, 0);
  ldaps.stop();

  Daemon wrong(1, 1);
  wrong.write_config(daemon_toml(wrong) + ldap_provider_toml(s, "rfc2307", "start_tls = true\ntls_ca_file = \"" +
                                                                 s.wrong_ca_file() + "\"\n"));
  auto refused = run(bin_dir() + "/fastidd --check-config --config " + wrong.config_path() + " 2>&1");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.out.find("not trusted by tls_ca_file " + s.wrong_ca_file()), std::string::npos) << refused.out;
  // A start goes on (tests/system/wrong_setting_system_test), serving nothing
  // of a server the CA does not verify: its names are "try again".
  ASSERT_TRUE(wrong.start()) << wrong.log();
  EXPECT_NE(wrong.log().find("provider corp is misconfigured"), std::string::npos) << wrong.log();
  EXPECT_NE(wrong.getent("passwd user00011").exit_code, 0) << "answered through a CA that does not verify the server";
}

TEST_F(LdapSystemTest, CheckConfigNamesAWrongUriBaseOrCredential) {
  const Slapd& s = *slapd[0];
  Daemon d(1, 1);
  auto check = [&](const std::string& provider, const std::string& words) {
    d.write_config(daemon_toml(d) + provider);
    auto r = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find(words), std::string::npos) << r.out << "\nwanted: " << words;
    EXPECT_EQ(r.out.find("service-secret"), std::string::npos) << "a secret in the output";
  };
  std::string good = ldap_provider_toml(s, "rfc2307");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  check(with("base = \"dc=fastid,dc=test\"", "base = \"dc=wrong,dc=test\""), "base dc=wrong,dc=test does not exist");
  check(with("uri = [\"" + s.uri() + "\"]", "uri = [\"ldap://127.0.0.1:1/\"]"), "no URI answered: ");
  check(with("uri = [\"" + s.uri() + "\"]", "uri = [\"ldapx://nowhere\"]"), "is not an LDAP URL");
  check(with("bind_password_file = \"" + s.bind_password_file() + "\"", "bind_password = \"wrong\""),
        "invalid credentials");
  check(with("bind_password_file = \"" + s.bind_password_file() + "\"", "bind_password_file = \"/nonexistent\""),
        "bind_password_file /nonexistent");
}

// fastid auth (the pam socket) with the LDAP provider behind it: a bind as the
// user decides the password, shadowAccount attributes the account.
TEST_F(LdapSystemTest, AuthenticationBindsAsTheUserAndAccountsFollowShadowAttributes) {
  const Daemon& d = *served[0]->daemon;
  auto auth = [&](const std::string& user, const std::string& password) {
    return run("printf '%s\\n' '" + password + "' | " + d.env() + bin_dir() + "/fastid auth " + user + " 2>&1");
  };
  auto ok = auth("user00007", Slapd::password_of("user00007"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  auto wrong = auth("user00008", "not-the-password");
  EXPECT_EQ(wrong.exit_code, 3) << wrong.out;
  EXPECT_EQ(wrong.out.find("not-the-password"), std::string::npos);
  auto unknown = auth("nosuchuser", "x");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  auto expired = auth("expired", Slapd::password_of("expired"));
  EXPECT_EQ(expired.exit_code, 3) << expired.out;
  EXPECT_NE(expired.out.find("account expired on 1970-01-02"), std::string::npos) << expired.out;
  auto pwexpired = auth("pwexpired", Slapd::password_of("pwexpired"));
  EXPECT_NE(pwexpired.exit_code, 0) << pwexpired.out;
  EXPECT_NE(pwexpired.out.find("password expired"), std::string::npos) << pwexpired.out;
}

// The attribute lists of the searches slapd logged since the last clear_log()
// ("conn=N op=M SRCH attr=uid uidNumber ..."); "1.1" (no attributes: the
// base checks of a starting provider worker) is left out.
std::vector<std::set<std::string>> searched_attributes(const Slapd& s) {
  std::vector<std::set<std::string>> out;
  std::istringstream in(read_file(s.log_path()));
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(" SRCH attr=");
    if (at == std::string::npos) continue;
    std::set<std::string> attrs;
    for (const auto& a : split(line.substr(at + 11), ' ')) {
      if (!a.empty() && a != "1.1") attrs.insert(a);  // 1.1: no attributes (a base check)
    }
    out.push_back(std::move(attrs));
  }
  return out;
}

// Issue #17: a cold lookup by name or id through glibc is one search of the
// directory, asking only for the attributes its answer is made of (slapd's
// stats log is the witness). Own daemon, so that nothing is in its store or
// fast cache; group0700 has no nested groups (tests/ldap/gen-ldif).
TEST_F(LdapSystemTest, EachColdLookupByNameOrIdIsOneSearchForOnlyTheAttributesItUses) {
  Slapd& s = *slapd[1];  // rfc2307bis: group members are DNs
  Served fresh;
  ASSERT_TRUE(fresh.start(s, "rfc2307bis")) << fresh.daemon->log();
  const Daemon& d = *fresh.daemon;
  const std::set<std::string> user_attrs = {"uid", "uidNumber", "gidNumber", "gecos", "homeDirectory", "loginShell"};
  const std::set<std::string> group_attrs = {"cn", "gidNumber", "memberUid", "member"};
  struct Case {
    std::string getent;
    const std::set<std::string>* attrs;
  };
  const Case cases[] = {
      {"passwd user04242", &user_attrs},  // getpwnam
      {"passwd 104243", &user_attrs},     // getpwuid (user04243)
      {"group group0700", &group_attrs},  // getgrnam
      {"group 200701", &group_attrs},     // getgrgid (group0701)
  };
  for (const Case& c : cases) {
    s.clear_log();
    auto r = run(d.env() + "getent -s fastid " + c.getent);
    ASSERT_EQ(r.exit_code, 0) << c.getent << ": " << r.out << d.log();
    // Base-scope reads (a spare provider worker checking the bases) are not lookups.
    EXPECT_EQ(s.searches_logged(" scope=0 "), 1) << "cold getent " << c.getent;
    const auto searched = searched_attributes(s);
    EXPECT_FALSE(searched.empty()) << "slapd logged the search's attributes";
    for (const auto& attrs : searched) {
      for (const auto& a : attrs) {
        EXPECT_TRUE(c.attrs->contains(a)) << "cold getent " << c.getent << " fetched " << a;
      }
    }
  }
}

TEST(LdapSystemRestart, LookupsWorkAgainAfterSlapdRestarts) {
  Slapd s({.users = 300, .groups = 30});
  ASSERT_TRUE(s.started()) << s.error();
  Served served;
  // The store probes a directory it found down every probe_interval.
  ASSERT_TRUE(served.start(s, "rfc2307", "", "\n[store]\nprobe_interval = \"200ms\"\n")) << served.daemon->log();
  const Daemon& d = *served.daemon;
  EXPECT_EQ(d.getent("passwd user00001").exit_code, 0);
  ASSERT_TRUE(s.restart()) << s.error();
  // Not cached anywhere: the provider must reconnect to answer.
  auto r = d.getent("passwd user00002");
  EXPECT_EQ(r.exit_code, 0) << r.out << d.log();
  ASSERT_TRUE(s.stop());
  // nss_query tells "not found" (2) from an error (1); getent says 2 for both.
  auto down = run(d.env() + bin_dir() + "/nss_query passwd user00003 2>&1");
  EXPECT_EQ(down.exit_code, 1) << "an outage is not \"no such user\": " << down.out;
  // A name seen before the outage is still served (from the store).
  EXPECT_EQ(d.getent("passwd user00001").exit_code, 0);
  ASSERT_TRUE(s.restart());
  // Online again after the next probe: the name never seen is answered.
  EXPECT_TRUE(wait_until([&] { return d.getent("passwd user00003").exit_code == 0; }, std::chrono::seconds(5)))
      << d.log();
  EXPECT_TRUE(d.answers());
}

TEST(LdapSystemScale, BigGroupAndUserInTwoThousandGroups) {
  Slapd s({.schema = "rfc2307bis", .log = true, .scale = true});
  ASSERT_TRUE(s.started()) << s.error();
  Served served;
  ASSERT_TRUE(served.start(s, "rfc2307bis")) << served.daemon->log();
  const Daemon& d = *served.daemon;
  s.clear_log();
  auto cold = run(d.env() + bin_dir() + "/nss_query groups manygroups");
  ASSERT_EQ(cold.exit_code, 0) << cold.out;
  EXPECT_EQ(split(trim(cold.out), ' ').size(), 2002u);  // 2,000 groups, biggroup and the primary
  // getpwnam (1), then initgroups: the user (1), the direct groups (1) and one
  // nesting level in chunks of 500 DNs (5 for 2,001, finding nothing). The base checks
  // of a spare provider worker starting meanwhile (scope=0) are not lookups.
  const int searches = s.searches_logged(" scope=0 ");
  EXPECT_LE(searches, 8) << "cold id -G of a user in 2,001 groups";
  std::fprintf(stderr, "[ scale    ] cold id -G manygroups: %d searches, %.1f ms\n", searches, cold.seconds * 1e3);
  // Warm: the answers are in the daemon's caches (fast cache for id -G).
  std::vector<double> warm;
  for (int i = 0; i < 5; ++i) {
    auto r = run(d.env() + bin_dir() + "/nss_query groups manygroups");
    ASSERT_EQ(r.exit_code, 0);
    warm.push_back(r.seconds * 1e3);
  }
  std::sort(warm.begin(), warm.end());
  // Information only: speed is for bench/ (docs/benchmarks.md), never a timed test.
  std::fprintf(stderr, "[ scale    ] warm id -G manygroups (whole process): median %.1f ms\n", warm[2]);
  // The first getent of the big group fetches its 50,000 DNs from slapd (glibc's
  // ERANGE retries, a 1 KiB buffer doubled up to the 650 KB record, are then
  // answered from libfastid's retry stash): give the client more than its
  // default 5 s per request under a sanitizer's slowness.
#ifdef FASTID_LDAP_SANITIZED
  // About 35 s under ASan (eleven fetches of 50,000 DNs by an instrumented
  // worker); ldap_provider_test covers the big group in the sanitizer build.
  std::fprintf(stderr, "[ scale    ] the 50,000-member group through glibc: plain build only\n");
  return;
#endif
  const std::string big_cmd = "FASTID_TIMEOUT_MS=60000 getent -s fastid group biggroup 2>&1";
  auto big = run(d.env() + big_cmd);
  ASSERT_EQ(big.exit_code, 0) << big.out.substr(0, 300) << d.log().substr(0, 2000);
  EXPECT_EQ(group_key(trim(big.out)).second.size(), 50001u);  // bulk00001..bulk50000 and manygroups
  const int repeats = 3;
  std::vector<double> big_times;
  for (int i = 0; i < repeats; ++i) {
    long before = d.requests_served();
    auto r = run(d.env() + big_cmd);
    long after = d.requests_served();
    ASSERT_EQ(r.exit_code, 0);
    // The record is in the group map ([fastcache] max_record 1 MiB): glibc's
    // ERANGE retries and the lookup itself ask the daemon nothing.
    EXPECT_EQ(after - before - 1, 0) << "the 650 KB record from the fast cache";
    big_times.push_back(r.seconds * 1e3);
  }
  std::sort(big_times.begin(), big_times.end());
  std::fprintf(stderr, "[ scale    ] warm getent group biggroup (50,000 members, whole process): median %.1f ms\n",
               big_times[big_times.size() / 2]);
  // What `id bulk00001` asks, warm (issue 17): the user, its groups, and each
  // group by gid (biggroup's 650 KB record too) — from the fast cache, none
  // of it from the daemon.
  const std::string id_cmds[] = {"getent -s fastid passwd bulk00001", bin_dir() + "/nss_query groups bulk00001",
                                 "getent -s fastid group 299999", "getent -s fastid group 200001"};
  for (const std::string& cmd : id_cmds) (void)run(d.env() + cmd);  // cold: published
  for (const std::string& cmd : id_cmds) {
    long before = d.requests_served();
    auto r = run(d.env() + "FASTID_TIMEOUT_MS=60000 " + cmd + " >/dev/null");
    long after = d.requests_served();
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_EQ(after - before - 1, 0) << "warm " << cmd << " from the fast cache";
  }
  // The times are printed, not asserted: the request count above is what holds.
  EXPECT_TRUE(d.answers());
}

}  // namespace
}  // namespace fastid::testing
