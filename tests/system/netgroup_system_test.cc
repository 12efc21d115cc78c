// Netgroups from a files provider's netgroup(5) file, end to end through real
// glibc in a mount namespace whose /etc/nsswitch.conf says "netgroup: fastid":
// `getent netgroup NAME` and innetgr() (tests/system/innetgr_query) answer
// what the dataset (tests/support/netgroup_dataset.h: nesting, a cycle, a
// netgroup no source holds) says, and a reloaded file is served. Needs root
// (unshare -m); skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/daemon_fixture.h"
#include "support/netgroup_dataset.h"

namespace fastid::testing {
namespace {

constexpr const char* kNsswitch = "passwd: files\ngroup: files\nnetgroup: fastid\n";

class NetgroupFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
    d_ = std::make_unique<Daemon>(10, 2);
    write_file(d_->dir() + "/data/netgroup", netgroup_file_text());
    d_->write_config(d_->default_config_text() + "netgroup = \"" + d_->dir() + "/data/netgroup\"\n");
    ASSERT_TRUE(d_->start()) << d_->log();
  }
  CommandResult getent(const std::string& name) {
    return with_nsswitch(*d_, kNsswitch, "getent netgroup " + name);
  }
  std::unique_ptr<Daemon> d_;
};

TEST_F(NetgroupFilesTest, GetentListsEveryNetgroupFlattenedCyclesIncluded) {
  for (const auto& def : netgroup_defs()) {
    CommandResult r = getent(def.name);
    EXPECT_EQ(r.exit_code, 0) << def.name << ": " << r.out;
    EXPECT_EQ(r.out.rfind(def.name, 0), 0u) << r.out;
    EXPECT_EQ(parse_getent_netgroup(r.out), expected_triples(def.name)) << def.name << ": " << r.out;
  }
  CommandResult none = getent("ng-nosuch");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(none.out, "");
}

TEST_F(NetgroupFilesTest, InnetgrAnswersAsGlibcMatchingOverTheDatasetSays) {
  const auto queries = innetgr_queries();
  const auto answers = ask_innetgr(*d_, queries);
  ASSERT_EQ(answers.size(), queries.size()) << (answers.empty() ? "" : answers[0]);
  int yes = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    auto f = split(queries[i], ' ');
    const bool want = expected_innetgr(f[0], f[1], f[2], f[3]);
    yes += want;
    EXPECT_EQ(answers[i], want ? "1" : "0") << "innetgr(" << queries[i] << ")";
  }
  EXPECT_GT(yes, 100);  // the table asks both ways
  EXPECT_LT(yes, static_cast<int>(queries.size()) - 100);
}

TEST_F(NetgroupFilesTest, AChangedFileIsServedAndAMalformedLineIsNot) {
  write_file(d_->dir() + "/data/netgroup",
             netgroup_file_text() + "ng-new (new.example,,)\nng-bad (evil host,,) (ok.example,,)\n");
  EXPECT_TRUE(wait_until([&] { return getent("ng-new").exit_code == 0; })) << d_->log();
  EXPECT_EQ(parse_getent_netgroup(getent("ng-new").out), (std::set<Triple>{{"new.example", "", ""}}));
  // A line that breaks the rules is skipped whole, never half-served.
  EXPECT_NE(getent("ng-bad").exit_code, 0);
  EXPECT_NE(d_->log().find("malformed"), std::string::npos);
}

}  // namespace
}  // namespace fastid::testing
