// Access control at the account check (issue #16) through real PAM: pamtester
// with pam_fastid.so against fastidd with an LDAP provider and a private slapd
// (tests/ldap/slapd-fixture over StartTLS). The provider's rules:
//   access_filter "(!(uid=user00007))", allow_groups ["shellusers"],
//   deny_groups ["banned"], allow_users ["user00006"], deny_users ["user00005"].
// Deny wins; refusals are PAM_PERM_DENIED, logged naming the rule; while the
// directory is down the same decision comes from the store.
// Needs root (unshare -m); skipped otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/pam_fixture.h"
#include "support/pam_slapd_suite.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

constexpr const char* kAccountOk = "account management done";

class PamAccessTest : public PamSlapdSuite<PamAccessTest> {
 public:
  static constexpr const char* kService = "fastid-access";

  static void set_up_directory() {
    const std::string base = slapd_->base();
    std::string ldif;
    for (const auto& [name, gid, members] :
         {std::tuple{"shellusers", "260001", std::vector<std::string>{"user00001", "user00002", "user00005",
                                                                        "user00007", "user00008", "user00009"}},
          std::tuple{"banned", "260002", std::vector<std::string>{"user00002", "user00008"}}}) {
      ldif += "dn: cn=" + std::string(name) + ",ou=groups," + base +
              "\nchangetype: add\nobjectClass: posixGroup\ncn: " + name + "\ngidNumber: " + gid + "\n";
      for (const auto& m : members) ldif += "memberUid: " + m + "\n";
      ldif += "\n";
    }
    ASSERT_TRUE(slapd_->ldapmodify(ldif));
  }
  static void set_up_daemon() {
    daemon_->write_config(daemon_config(
        "", "",
        "access_filter = \"(!(uid=user00007))\"\nallow_groups = [\"shellusers\"]\ndeny_groups = [\"banned\"]\n"
        "allow_users = [\"user00006\"]\ndeny_users = [\"user00005\"]\n"));
  }

 protected:
  static CommandResult login(const std::string& user, const std::string& steps = "authenticate acct_mgmt") {
    return testing::pamtester(*daemon_, kService, user, Slapd::password_of(user), steps);
  }
  static bool logged(const std::string& text) { return daemon_->log().find(text) != std::string::npos; }
};

TEST_F(PamAccessTest, AMemberOfAnAllowedGroupLogsIn) {
  auto r = login("user00001");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has(r, kAccountOk)) << r.out;
}

TEST_F(PamAccessTest, AnAllowedUserLogsInWithoutTheGroup) {
  auto r = login("user00006");
  EXPECT_TRUE(has(r, kAccountOk)) << r.out;
}

TEST_F(PamAccessTest, DenyGroupsWinsOverAllowGroups) {
  auto r = login("user00002");
  EXPECT_TRUE(has(r, kSuccess)) << r.out;  // the password is right: the account is refused
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_TRUE(logged("pam: access denied by provider corp rule deny_groups (banned): user user00002"))
      << daemon_->log();
}

TEST_F(PamAccessTest, DenyUsersWinsOverAllowGroups) {
  auto r = login("user00005");
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_TRUE(logged("rule deny_users (user00005): user user00005")) << daemon_->log();
}

TEST_F(PamAccessTest, AUserInNoAllowListIsRefused) {
  auto r = login("user00003");
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_TRUE(logged("rule not in allow_users, allow_groups: user user00003")) << daemon_->log();
}

TEST_F(PamAccessTest, AnEntryTheAccessFilterDoesNotMatchIsRefused) {
  auto r = login("user00007");
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_TRUE(logged("user \"user00007\" refused: entry does not match access_filter (!(uid=user00007))"))
      << daemon_->log();
}

// Last: stops slapd. Two users logged in online (authentication only, so
// both keep an offline credential) and were looked up as a login does; with
// the directory gone, the rules decide from the store: user00009 in, user00008
// (banned) refused.
TEST_F(PamAccessTest, ZzOfflineTheSameRulesDecide) {
  for (const char* u : {"user00008", "user00009"}) {
    ASSERT_TRUE(has(login(u, "authenticate"), kSuccess)) << u;
    // What sshd or login look up around a login: the user and its groups.
    ASSERT_EQ(daemon_->getent(std::string("passwd ") + u).exit_code, 0) << u;
    ASSERT_EQ(daemon_->getent(std::string("initgroups ") + u).exit_code, 0) << u;
  }
  ASSERT_EQ(daemon_->getent("group banned").exit_code, 0);
  ASSERT_EQ(daemon_->getent("group shellusers").exit_code, 0);
  ASSERT_TRUE(slapd_->kill());
  auto in = login("user00009");
  EXPECT_EQ(in.exit_code, 0) << in.out << daemon_->log();
  EXPECT_TRUE(has(in, kAccountOk)) << in.out;
  auto out = login("user00008");
  EXPECT_TRUE(has(out, kSuccess)) << out.out;  // offline credential
  EXPECT_TRUE(has(out, kDenied)) << out.out;
  EXPECT_TRUE(logged("rule deny_groups (banned): user user00008")) << daemon_->log();
}

}  // namespace
}  // namespace fastid::testing
