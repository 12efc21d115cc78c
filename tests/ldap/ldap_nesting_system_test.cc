// Nested membership that agrees with itself (issue #16), through real glibc
// against fastidd and a private slapd with the rfc2307bis dataset (chains of
// groups nested three deep, a cycle of two, a cycle of three that the nesting
// depth of 4 cuts in the middle: tests/ldap/gen-ldif). For every (user,
// group) pair nss_membership checks that getgrgid(g) lists u exactly when
// getgrouplist(u) has g — fresh from the directory (store empty), from the
// store (fast cache off, second pass), and from the fast cache.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A daemon serving `slapd` with one rfc2307bis provider; `sections` adds
// [store] / [fastcache] tables.
std::unique_ptr<Daemon> serve(const Slapd& s, const std::string& sections) {
  auto d = std::make_unique<Daemon>(1, 1);
  d->write_config("[daemon]\nsocket_dir = \"" + d->socket_dir() + "\"\nstate_dir = \"" + d->dir() +
                  "/state\"\nlog_level = \"info\"\n" + sections + "\n[[provider]]\nname = \"corp\"\n" +
                  "type = \"ldap\"\nuri = [\"" + s.uri() + "\"]\nbase = \"" + s.base() + "\"\nbind_dn = \"" +
                  s.bind_dn() + "\"\nbind_password_file = \"" + s.bind_password_file() +
                  "\"\nschema = \"rfc2307bis\"\npage_size = 97\n");
  if (!d->start()) return nullptr;
  return d;
}

struct Membership {
  int exit_code = -1;
  long pairs = -1, mismatches = -1;
  std::string out;
};

// nss_membership against `d`: every user (every 7th in a sanitizer build)
// against every group.
Membership check(const Daemon& d) {
#ifdef FASTID_LDAP_SANITIZED
  const std::string every = " -n 7";
#else
  const std::string every = "";
#endif
  auto r = run(d.env() + bin_dir() + "/nss_membership" + every);
  Membership m;
  m.exit_code = r.exit_code;
  m.out = r.out;
  const auto at = r.out.find(" pairs ");
  if (at != std::string::npos) {
    std::sscanf(r.out.c_str() + at, " pairs %ld mismatches %ld", &m.pairs, &m.mismatches);
  }
  std::fprintf(stderr, "[ members  ] %s", r.out.c_str());
  return m;
}

// Searches slapd logged since the last clear_log() whose line has `what`.
int searches_with(const Slapd& s, const std::string& what) { return s.searches_logged() - s.searches_logged(what); }

// getent group NAME's members as a set.
std::set<std::string> members(const Daemon& d, const std::string& name) {
  auto r = d.getent("group " + name);
  auto f = split(trim(r.out), ':');
  std::set<std::string> out;
  if (f.size() > 3 && !f[3].empty()) {
    for (const auto& m : split(f[3], ',')) out.insert(m);
  }
  return out;
}

class LdapNestingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    slapd_ = std::make_unique<Slapd>(Slapd::Options{.schema = "rfc2307bis", .log = true});
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
  }
  std::unique_ptr<Slapd> slapd_;
};

TEST_F(LdapNestingTest, MembershipAgreesBothWaysFreshFromTheStoreAndFromTheFastCache) {
  const Slapd& s = *slapd_;
  // Store on, fast cache off: the first pass is fresh from the directory, the
  // second from the store.
  auto stored = serve(s, "\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
                         "initgroups = { enabled = false }\n");
  ASSERT_TRUE(stored) << "fastidd did not start";
  s.clear_log();
  Membership fresh = check(*stored);
  EXPECT_EQ(fresh.exit_code, 0) << fresh.out;
  EXPECT_EQ(fresh.mismatches, 0) << "fresh from the directory: " << fresh.out;
  EXPECT_GT(fresh.pairs, 1000000) << fresh.out;
  // Fresh: every getgrgid and getgrouplist went to slapd.
  EXPECT_GT(searches_with(s, "gidNumber="), 1000) << "group lookups by gid reached slapd";
  EXPECT_GT(searches_with(s, "memberUid="), 1000) << "initgroups reached slapd";

  s.clear_log();
  Membership from_store = check(*stored);
  EXPECT_EQ(from_store.exit_code, 0) << from_store.out;
  EXPECT_EQ(from_store.mismatches, 0) << "from the store: " << from_store.out;
  EXPECT_EQ(from_store.pairs, fresh.pairs);
  // Second pass: lookups by gid and initgroups answered by the store
  // (enumeration pages, never stored, still reach slapd).
  EXPECT_EQ(searches_with(s, "gidNumber="), 0);
  EXPECT_EQ(searches_with(s, "memberUid="), 0);

  // The flattening is the documented one, not only self-consistent: depth 4,
  // shortest paths, cycles closed (tests/ldap/gen-ldif's expected/group).
  const std::string expected = "\n" + read_file(s.data_dir() + "/expected/group");
  for (const char* name : {"group0001", "group0101", "group0995", "group0996", "group0997", "group0998"}) {
    const auto at = expected.find(std::string("\n") + name + ":");
    ASSERT_NE(at, std::string::npos) << name;
    const std::string line = expected.substr(at + 1, expected.find('\n', at + 1) - at - 1);
    auto f = split(line, ':');
    std::set<std::string> want;
    for (const auto& m : split(f[3], ',')) want.insert(m);
    EXPECT_EQ(members(*stored, name), want) << name;
  }
  stored.reset();

  // Fast cache on (a new daemon, store empty): the first pass publishes, the
  // second reads the maps; only enumeration asks the daemon.
  auto cached = serve(s, "");
  ASSERT_TRUE(cached) << "fastidd did not start";
  Membership publish = check(*cached);
  EXPECT_EQ(publish.mismatches, 0) << "fresh, publishing: " << publish.out;
  const long before = cached->requests_served();
  Membership from_cache = check(*cached);
  const long asked = cached->requests_served() - before;
  EXPECT_EQ(from_cache.exit_code, 0) << from_cache.out;
  EXPECT_EQ(from_cache.mismatches, 0) << "from the fast cache: " << from_cache.out;
  EXPECT_EQ(from_cache.pairs, fresh.pairs);
  // ~10,000 getgrouplist and ~1,000 getgrgid calls: none reached the socket.
  EXPECT_GE(before, 0);
  EXPECT_LT(asked, 1000) << "requests to the daemon during the fast cache pass";
}

}  // namespace
}  // namespace fastid::testing
