// CheckedProvider: the gate every answer of a directory-backed provider passes
// (src/providers/checked_provider.h), driven by a scripted provider that
// answers what the test says — the same lies a directory or an upstream can
// tell. The attacks themselves are replayed end to end in
// tests/ldap/ldap_security_system_test.cc and tests/system/net_system_test.cc.
#include "providers/checked_provider.h"

#include <gtest/gtest.h>

#include <map>

#include "daemon/config.h"
#include "daemon/provider_factory.h"

namespace fastid::providers {
namespace {

using core::Code;

// Answers from maps the test fills; counts the calls that reach it.
class Scripted final : public Provider {
 public:
  std::map<std::string, User, std::less<>> by_name;
  std::map<std::uint32_t, User> by_uid;
  std::map<std::string, Group, std::less<>> groups_by_name;
  std::map<std::uint32_t, Group> groups_by_gid;
  std::vector<std::uint32_t> gids;
  Page<User> users;
  Page<Group> groups;
  Status auth = Status::ok();
  int calls = 0;

  const std::string& name() const override { return name_; }
  Status open() override { return Status::ok(); }
  void close() override {}
  Status refresh() override { return Status::ok(); }
  template <typename M, typename K>
  auto find(const M& m, const K& k) -> Result<typename M::mapped_type> {
    ++calls;
    auto it = m.find(k);
    if (it == m.end()) return core::error(Status::not_found("no"));
    return it->second;
  }
  Result<Answer> lookup(const Query& q) override {
    switch (q.kind) {
      case model::Kind::kUserByName: return find(by_name, q.name);
      case model::Kind::kUserByUid: return find(by_uid, q.id);
      case model::Kind::kGroupByName: return find(groups_by_name, q.name);
      case model::Kind::kGroupByGid: return find(groups_by_gid, q.id);
      case model::Kind::kInitgroups: return gids;
      case model::Kind::kUsersPage: return users;
      case model::Kind::kGroupsPage: return groups;
      case model::Kind::kNetgroup:
      case model::Kind::kSshKeys: return core::error(Status::not_found("no"));
    }
    return core::error(Status::internal("unknown kind"));
  }
  Status authenticate(std::string_view, std::string_view) override { return auth; }
  Result<model::Account> account(std::string_view) override { return model::Account{}; }

 private:
  std::string name_ = "corp";
};

User user(const std::string& name, std::uint32_t uid, std::uint32_t gid) {
  return User{.name = name, .uid = uid, .gid = gid, .gecos = "", .dir = "/home/" + name, .shell = "/bin/sh"};
}

struct Gate {
  Scripted* inner;
  CheckedProvider checked;
  explicit Gate(IdRange ids = {}) : inner(new Scripted), checked(std::unique_ptr<Provider>(inner), ids) {}
};

TEST(CheckedProvider, RootIsNeverServedWhateverTheRange) {
  Gate g(IdRange{.min_id = 1, .max_id = 4294967294u});
  g.inner->by_name["toor"] = user("toor", 0, 100);
  g.inner->by_name["rootgroup"] = user("rootgroup", 1000, 0);
  g.inner->groups_by_name["wheel"] = Group{.name = "wheel", .gid = 0, .members = {"alice"}};
  EXPECT_EQ(g.checked.user_by_name("toor").error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.user_by_name("rootgroup").error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.group_by_name("wheel").error().code(), Code::kNotFound);
  // Asked by id 0, the provider is still asked (the store probes reachability
  // with getpwuid(0)), and its answer refused.
  g.inner->by_uid[0] = user("toor", 0, 100);
  g.inner->groups_by_gid[0] = Group{.name = "wheel", .gid = 0, .members = {}};
  const int before = g.inner->calls;
  EXPECT_EQ(g.checked.user_by_uid(0).error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.group_by_gid(0).error().code(), Code::kNotFound);
  EXPECT_EQ(g.inner->calls, before + 2);
  g.inner->by_uid.erase(0);
  EXPECT_EQ(g.checked.user_by_uid(0).error().code(), Code::kNotFound);
  EXPECT_EQ(refused_id_reason(0, IdRange{.min_id = 0, .max_id = 10}), std::string("id 0 (root) is never taken from a directory"));
}

TEST(CheckedProvider, IdsOutsideTheRangeAreNotFound) {
  Gate g(IdRange{.min_id = 1000, .max_id = 60000});
  g.inner->by_name["low"] = user("low", 999, 1000);
  g.inner->by_name["high"] = user("high", 60001, 1000);
  g.inner->by_name["edge"] = user("edge", 1000, 60000);
  g.inner->groups_by_name["sys"] = Group{.name = "sys", .gid = 3, .members = {}};
  EXPECT_FALSE(g.checked.user_by_name("low"));
  EXPECT_FALSE(g.checked.user_by_name("high"));
  EXPECT_TRUE(g.checked.user_by_name("edge"));
  EXPECT_FALSE(g.checked.group_by_name("sys"));
  g.inner->gids = {3, 1000, 0, 60000, 70000};
  EXPECT_EQ(*g.checked.initgroups("edge"), (std::vector<std::uint32_t>{1000, 60000}));
}

TEST(CheckedProvider, AnAnswerMustBeTheOneAskedFor) {
  Gate g;
  g.inner->by_name["bob"] = user("mallory", 1500, 1500);
  g.inner->by_uid[1501] = user("erin", 1502, 1502);
  g.inner->groups_by_name["staff"] = Group{.name = "admins", .gid = 1600, .members = {}};
  g.inner->groups_by_gid[1601] = Group{.name = "other", .gid = 1602, .members = {}};
  EXPECT_EQ(g.checked.user_by_name("bob").error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.user_by_uid(1501).error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.group_by_name("staff").error().code(), Code::kNotFound);
  EXPECT_EQ(g.checked.group_by_gid(1601).error().code(), Code::kNotFound);
  EXPECT_NE(g.checked.user_by_name("bob").error().message().find("names another user"), std::string::npos);
}

TEST(CheckedProvider, RecordsThatCannotStandInALineAreRefusedMembersDropped) {
  Gate g;
  g.inner->by_name["alice"] = user("alice", 1500, 1500);
  g.inner->by_name["alice"].shell = "/bin/sh\nroot::0:0::/:/bin/sh";
  g.inner->groups_by_name["devs"] = Group{.name = "devs", .gid = 1600, .members = {"alice", "bad:member", "bob"}};
  EXPECT_FALSE(g.checked.user_by_name("alice"));
  auto devs = g.checked.group_by_name("devs");
  ASSERT_TRUE(devs);
  EXPECT_EQ(devs->members, (std::vector<std::string>{"alice", "bob"}));
}

TEST(CheckedProvider, PagesLoseRefusedRecordsAndKeepTheirCursor) {
  Gate g;
  g.inner->users = Page<User>{.records = {user("a", 1500, 1500), user("toor", 0, 0), user("b", 1501, 1501)},
                              .next_cursor = 3,
                              .more = true};
  auto page = g.checked.users_page(0, 3);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[1].name, "b");
  EXPECT_EQ(page->next_cursor, 3u);
  EXPECT_TRUE(page->more);
}

TEST(CheckedProvider, ASuccessForARefusedUserIsNotFound) {
  Gate g;
  g.inner->by_name["toor"] = user("toor", 0, 0);
  g.inner->by_name["alice"] = user("alice", 1500, 1500);
  EXPECT_EQ(g.checked.authenticate("toor", "pw").code(), Code::kNotFound);
  EXPECT_EQ(g.checked.account("toor").error().code(), Code::kNotFound);
  EXPECT_TRUE(g.checked.authenticate("alice", "pw").ok());
  g.inner->auth = Status::permission_denied("wrong");
  EXPECT_EQ(g.checked.authenticate("alice", "pw").code(), Code::kPermissionDenied);
}

TEST(CheckedProvider, TheRegistryWrapsDirectoryTypesOnly) {
  daemon::ProviderConfig remote;
  remote.name = "site";
  remote.type = "fastid";
  remote.servers = {"127.0.0.1:1"};
  auto made = daemon::make_provider(remote);
  ASSERT_TRUE(made);
  EXPECT_NE(dynamic_cast<CheckedProvider*>(made->get()), nullptr);
  daemon::ProviderConfig ldap;
  ldap.name = "corp";
  ldap.type = "ldap";
  made = daemon::make_provider(ldap);
  ASSERT_TRUE(made);
  EXPECT_NE(dynamic_cast<CheckedProvider*>(made->get()), nullptr);
  daemon::ProviderConfig files;
  files.name = "local";
  files.type = "files";
  made = daemon::make_provider(files);
  ASSERT_TRUE(made);
  EXPECT_EQ(dynamic_cast<CheckedProvider*>(made->get()), nullptr) << "/etc/passwd's root must stay";
}

}  // namespace
}  // namespace fastid::providers
