// WinbindProvider against a real winbindd (tests/winbind/winbind-fixture): the
// lookups, the AD name forms, errors, initgroups against `wbinfo -r`,
// enumeration, authentication and account states, and winbindd going away and
// coming back. The test process enters a private mount namespace where the
// fixture's socket is /run/samba/winbindd. Needs root; skipped otherwise.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>

#include "daemon/provider_factory.h"
#include "providers/winbind/winbind_provider.h"
#include "winbind_fixture.h"

namespace fastid::testing {
namespace {

using core::Code;
using providers::WinbindProvider;
using ::testing::HasSubstr;

class WinbindProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    wb_ = new Winbindd(Winbindd::Options{.users = 50, .groups = 10, .expand_groups = 0});
    ASSERT_TRUE(wb_->started()) << wb_->error();
    bind_error_ = bind_winbindd_socket(wb_->socket_dir());
  }
  static void TearDownTestSuite() {
    delete wb_;
    wb_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: a private winbindd and mount namespace";
    ASSERT_NE(wb_, nullptr);
    ASSERT_EQ(bind_error_, "");
  }

  static std::unique_ptr<providers::Provider> make(WinbindProvider::Options o) {
    if (o.name.empty()) o.name = "ad";
    auto p = std::make_unique<WinbindProvider>(o);
    EXPECT_TRUE(p->open()) << p->open().message();
    return p;
  }
  // Through the registry, as the daemon builds it (CheckedProvider in front).
  static std::unique_ptr<providers::Provider> registered(const std::string& default_domain = "",
                                                         bool case_sensitive = false) {
    daemon::ProviderConfig c;
    c.name = "ad";
    c.type = "winbind";
    c.default_domain = default_domain;
    c.case_sensitive = case_sensitive;
    auto p = daemon::make_provider(c);
    EXPECT_TRUE(p.has_value());
    EXPECT_TRUE((*p)->open());
    return std::move(*p);
  }

  // `wbinfo -r NAME`: the gids winbindd reports, as a set.
  static std::set<std::uint32_t> wbinfo_groups(const std::string& name) {
    std::istringstream in(wb_->tool("wbinfo -r '" + name + "'"));
    std::set<std::uint32_t> out;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.insert(static_cast<std::uint32_t>(std::stoul(line)));
    }
    return out;
  }

  static Winbindd* wb_;
  static std::string bind_error_;
};
Winbindd* WinbindProviderTest::wb_ = nullptr;
std::string WinbindProviderTest::bind_error_;

TEST_F(WinbindProviderTest, UsersByNameAndUidAnswerTheSameQualifiedName) {
  auto p = registered();
  auto u = p->user_by_name("WBTEST\\wbuser001");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->name, "WBTEST\\wbuser001");
  EXPECT_EQ(u->uid, 10001u);  // a local SAM account keeps its Unix uid (the fixture's passwd)
  EXPECT_EQ(u->gid, 20000u);
  auto by_uid = p->user_by_uid(u->uid);
  ASSERT_TRUE(by_uid) << by_uid.error().message();
  EXPECT_EQ(*by_uid, *u);
  // The name a uid lookup returns is one a name lookup takes.
  auto again = p->user_by_name(by_uid->name);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->uid, u->uid);
}

TEST_F(WinbindProviderTest, BothQualifiedFormsAndAnyCaseAnswerTheCanonicalName) {
  auto p = registered();
  for (const char* asked : {"WBTEST\\wbuser002", "wbtest\\WBUser002", "wbuser002@wbtest", "WBUSER002@WBTEST"}) {
    auto u = p->user_by_name(asked);
    ASSERT_TRUE(u) << asked << ": " << u.error().message();
    EXPECT_EQ(u->name, "WBTEST\\wbuser002") << asked;
  }
  auto g = p->group_by_name("wbgroup03@wbtest");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->name, "WBTEST\\wbgroup03");
}

TEST_F(WinbindProviderTest, DefaultDomainAnswersAndNamesShortNamesBothWays) {
  auto p = registered("wbtest");
  auto u = p->user_by_name("WBUSER003");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->name, "wbuser003");
  auto q = p->user_by_name("WBTEST\\wbuser003");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->name, "wbuser003");
  auto by_uid = p->user_by_uid(u->uid);
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->name, "wbuser003");
  auto g = p->group_by_name("wbgroup01");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->name, "wbgroup01");
  auto gid = p->group_by_gid(g->gid);
  ASSERT_TRUE(gid);
  EXPECT_EQ(gid->name, "wbgroup01");
}

TEST_F(WinbindProviderTest, CaseSensitiveSitesNeedTheExactCase) {
  auto p = registered("", true);
  EXPECT_TRUE(p->user_by_name("WBTEST\\wbuser004"));
  EXPECT_TRUE(p->user_by_name("wbtest\\wbuser004"));  // domains never depend on case
  auto wrong = p->user_by_name("WBTEST\\WBuser004");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Code::kNotFound);
  EXPECT_EQ(p->initgroups("WBTEST\\WBuser004").error().code(), Code::kNotFound);
}

TEST_F(WinbindProviderTest, SeparatorIsConfigurable) {
  auto plus = make({.names = {.separator = "+"}});
  auto u = plus->user_by_name("WBTEST+wbuser005");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->name, "WBTEST+wbuser005");
  EXPECT_TRUE(plus->user_by_name("WBTEST\\wbuser005"));  // winbindd's own separator still works
  auto at = make({.names = {.separator = "@"}});
  auto v = at->user_by_name("WBTEST\\wbuser005");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->name, "wbuser005@WBTEST");
}

TEST_F(WinbindProviderTest, UnknownNamesAndDomainsAreNotFound) {
  auto p = registered();
  for (const char* asked : {"WBTEST\\nosuch", "NODOMAIN\\wbuser001", "wbuser001@nodomain.example", "\\", "a\\b\\c", "@"}) {
    auto u = p->user_by_name(asked);
    ASSERT_FALSE(u) << asked;
    EXPECT_EQ(u.error().code(), Code::kNotFound) << asked << ": " << u.error().message();
  }
  EXPECT_EQ(p->user_by_uid(2999990).error().code(), Code::kNotFound);
  EXPECT_EQ(p->group_by_name("WBTEST\\nosuch").error().code(), Code::kNotFound);
  EXPECT_EQ(p->group_by_gid(2999991).error().code(), Code::kNotFound);
  EXPECT_EQ(p->initgroups("WBTEST\\nosuch").error().code(), Code::kNotFound);
}

TEST_F(WinbindProviderTest, InitgroupsEqualWbinfoForEveryUser) {
  auto p = registered();
  for (int i = 1; i <= wb_->options().users; ++i) {
    const std::string name = std::string("WBTEST\\") + Winbindd::user(i);
    auto gids = p->initgroups(name);
    ASSERT_TRUE(gids) << name << ": " << gids.error().message();
    const std::set<std::uint32_t> got(gids->begin(), gids->end());
    EXPECT_EQ(got, wbinfo_groups(name)) << name;
    EXPECT_EQ(got.size(), 3u) << name;  // Domain Users (wbusers) and two wbgroups
  }
}

TEST_F(WinbindProviderTest, EnumerationWalksEveryUserAndGroupInPages) {
  auto p = registered();
  std::set<std::string> users;
  std::uint32_t cursor = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = p->users_page(cursor, 7);
    ASSERT_TRUE(page) << page.error().message();
    for (const auto& u : page->records) users.insert(u.name);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  EXPECT_EQ(users.size(), static_cast<std::size_t>(wb_->options().users) + 3);
  EXPECT_TRUE(users.count("WBTEST\\wbuser050"));
  std::set<std::string> groups;
  cursor = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = p->groups_page(cursor, 4);
    ASSERT_TRUE(page) << page.error().message();
    for (const auto& g : page->records) groups.insert(g.name);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  EXPECT_TRUE(groups.count("WBTEST\\wbgroup10"));
  EXPECT_GE(groups.size(), static_cast<std::size_t>(wb_->options().groups));
}

TEST_F(WinbindProviderTest, AuthenticationAndAccountStates) {
  auto p = registered("WBTEST");
  EXPECT_TRUE(p->authenticate("wbuser006", "pw-wbuser006"));
  EXPECT_TRUE(p->authenticate("wbuser006@wbtest", "pw-wbuser006"));
  EXPECT_TRUE(p->authenticate("WBTEST\\WBUSER006", "pw-wbuser006"));
  auto wrong = p->authenticate("wbuser006", "pw-wbuser007");
  EXPECT_EQ(wrong.code(), Code::kPermissionDenied) << wrong.message();
  EXPECT_THAT(wrong.message(), HasSubstr("wrong password"));
  // A password cut at a NUL, or none at all, is never sent.
  EXPECT_EQ(p->authenticate("wbuser006", std::string("pw-wbuser006\0x", 14)).code(), Code::kPermissionDenied);
  EXPECT_EQ(p->authenticate("wbuser006", "").code(), Code::kPermissionDenied);
  EXPECT_EQ(p->authenticate("nosuch", "pw-nosuch").code(), Code::kNotFound);
  struct State {
    const char* user;
    const char* says;
  };
  for (State s : {State{"wbdisabled", "disabled"}, State{"wbexpired", "expired"},
                  State{"wbmustchange", "must be changed"}}) {
    auto st = p->authenticate(s.user, std::string("pw-") + s.user);
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << s.user << ": " << st.message();
    EXPECT_THAT(st.message(), HasSubstr(s.says)) << s.user;
  }
  auto acct = p->account("wbuser006");
  ASSERT_TRUE(acct) << acct.error().message();
  EXPECT_EQ(acct->verdict, model::AccountVerdict::kOk);
  EXPECT_EQ(p->account("nosuch").error().code(), Code::kNotFound);
}

TEST_F(WinbindProviderTest, ADefaultDomainWinbindDoesNotKnowIsRefusedAtOpen) {
  WinbindProvider p({.name = "ad", .names = {.separator = "\\", .default_domain = "OTHER", .case_sensitive = false}});
  auto st = p.open();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("default_domain"));
  EXPECT_THAT(st.message(), HasSubstr("WBTEST"));
  WinbindProvider bad({.name = "ad", .names = {.separator = "::", .default_domain = "", .case_sensitive = false}});
  EXPECT_THAT(bad.open().message(), HasSubstr("separator"));
}

// Last: stops and restarts the suite's winbindd.
TEST_F(WinbindProviderTest, WinbinddDownIsUnavailableNeverNotFoundAndComesBack) {
  auto p = registered();
  ASSERT_TRUE(p->user_by_name("WBTEST\\wbuser010"));
  ASSERT_TRUE(wb_->stop()) << wb_->error();
  for (auto r : {p->user_by_name("WBTEST\\wbuser010"), p->user_by_name("WBTEST\\wbuser011"), p->user_by_uid(2000001)}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::kUnavailable) << r.error().message();
  }
  EXPECT_EQ(p->initgroups("WBTEST\\wbuser010").error().code(), Code::kUnavailable);
  EXPECT_EQ(p->authenticate("WBTEST\\wbuser010", "pw-wbuser010").code(), Code::kUnavailable);
  WinbindProvider fresh({.name = "ad"});
  auto st = fresh.open();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("/run/samba/winbindd/pipe"));
  ASSERT_TRUE(wb_->restart()) << wb_->error();
  auto back = p->user_by_name("WBTEST\\wbuser011");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(fresh.user_by_name("WBTEST\\wbuser011"));
}

}  // namespace
}  // namespace fastid::testing
