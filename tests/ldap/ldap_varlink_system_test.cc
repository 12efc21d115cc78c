// The systemd userdb front serving a real slapd (tests/ldap/slapd-fixture):
// nss-systemd through glibc (getent, id) and userdbctl, in a private mount
// namespace with Debian's default `passwd: files systemd` and no fastid
// module, give the LDAP dataset exactly (docs/varlink.md).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"
#include "support/varlink_client.h"

namespace fastid::testing {
namespace {

constexpr int kUsers = 200;
constexpr int kGroups = 20;

class LdapVarlinkSystemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    slapd_ = new Slapd({.schema = "rfc2307bis", .users = kUsers, .groups = kGroups});
    if (!slapd_->started()) return;
    daemon_ = new Daemon(1, 1);
    fs::create_directories(daemon_->dir() + "/userdb");
    write_file(daemon_->dir() + "/nsswitch.conf", "passwd: files systemd\ngroup: files systemd\n");
    daemon_->write_config("[daemon]\nsocket_dir = \"" + daemon_->socket_dir() + "\"\nstate_dir = \"" +
                          daemon_->dir() + "/state\"\n\n[varlink]\nenabled = true\nsocket = \"" + daemon_->dir() +
                          "/userdb/io.fastid\"\n\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"" +
                          slapd_->uri() + "\"]\nbase = \"" + slapd_->base() + "\"\nbind_dn = \"" + slapd_->bind_dn() +
                          "\"\nbind_password_file = \"" + slapd_->bind_password_file() +
                          "\"\nschema = \"rfc2307bis\"\npage_size = 97\n");
    started_ = daemon_->start() &&
               wait_until([] { return VarlinkClient(daemon_->dir() + "/userdb/io.fastid").connected(); });
    expected_.load(slapd_->data_dir() + "/expected");
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete slapd_;
  }
  void SetUp() override {
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    ASSERT_TRUE(started_) << daemon_->log();
  }
  static CommandResult in_namespace(const std::string& command) {
    return userdb_namespace(daemon_->dir() + "/userdb", daemon_->dir() + "/nsswitch.conf", command);
  }
  static std::set<std::string> members(const std::string& line) {
    auto f = split(line, ':');
    std::set<std::string> out;
    if (f.size() > 3 && !f[3].empty()) {
      for (const auto& m : split(f[3], ',')) out.insert(m);
    }
    return out;
  }

  static Slapd* slapd_;
  static Daemon* daemon_;
  static bool started_;
  static Dataset expected_;  // gen-ldif's expected/passwd and expected/group
};
Slapd* LdapVarlinkSystemTest::slapd_ = nullptr;
Daemon* LdapVarlinkSystemTest::daemon_ = nullptr;
bool LdapVarlinkSystemTest::started_ = false;
Dataset LdapVarlinkSystemTest::expected_;

TEST_F(LdapVarlinkSystemTest, UsersByNameAndUidEqualTheDataset) {
  ASSERT_GE(expected_.passwd_by_name.size(), 3u);
  int checked = 0;
  for (const auto& [name, line] : expected_.passwd_by_name) {
    if (checked++ % 50 != 0) continue;
    auto r = in_namespace("getent passwd " + name);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out;
    EXPECT_EQ(r.out, line + "\n");
    auto by_uid = in_namespace("getent passwd " + split(line, ':')[2]);
    EXPECT_EQ(by_uid.out, r.out);
  }
}

TEST_F(LdapVarlinkSystemTest, GroupsInitgroupsAndIdEqualTheDataset) {
  int checked = 0;
  for (const auto& [name, line] : expected_.group_by_name) {
    if (checked++ % 5 != 0) continue;
    auto r = in_namespace("getent group " + name);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out;
    auto got = split(r.out.substr(0, r.out.size() - 1), ':');
    ASSERT_EQ(got.size(), 4u) << r.out;
    EXPECT_EQ(got[2], split(line, ':')[2]);
    EXPECT_EQ(members(r.out.substr(0, r.out.size() - 1)), members(line)) << name;
  }
  checked = 0;
  for (const auto& [user, gids] : expected_.groups_of) {
    if (checked++ % 40 != 0) continue;
    auto r = in_namespace("getent initgroups " + user);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    std::set<unsigned> got;
    auto fields = split(r.out.substr(0, r.out.find('\n')), ' ');
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (!fields[i].empty()) got.insert(static_cast<unsigned>(std::stoul(fields[i])));
    }
    EXPECT_EQ(got, gids) << user;
    auto id = in_namespace("id -G " + user);
    ASSERT_EQ(id.exit_code, 0) << id.out;
    for (unsigned gid : gids) {
      EXPECT_NE((" " + id.out).find(" " + std::to_string(gid)), std::string::npos) << id.out << " lacks " << gid;
    }
  }
}

TEST_F(LdapVarlinkSystemTest, EnumerationListsEachDirectoryUserOnce) {
  auto r = in_namespace("getent passwd");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::map<std::string, int> seen;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (expected_.passwd_by_name.count(split(line, ':')[0])) {
      ++seen[line];
      EXPECT_EQ(line, expected_.passwd_by_name.at(split(line, ':')[0]));
    }
  }
  EXPECT_EQ(seen.size(), expected_.passwd_by_name.size());
  for (const auto& [line, count] : seen) EXPECT_EQ(count, 1) << line;
}

TEST_F(LdapVarlinkSystemTest, UserdbctlSeesTheDirectory) {
  const std::string& user = expected_.passwd_by_name.begin()->first;
  auto r = in_namespace("userdbctl --output=classic user " + user);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, expected_.passwd_by_name.begin()->second + "\n");
  const auto& [group, line] = *expected_.group_by_name.begin();
  auto m = in_namespace("userdbctl --output=classic users-in-group " + group);
  ASSERT_EQ(m.exit_code, 0) << m.out;
  for (const std::string& member : members(line)) EXPECT_NE(m.out.find(member), std::string::npos) << m.out;
}

}  // namespace
}  // namespace fastid::testing
