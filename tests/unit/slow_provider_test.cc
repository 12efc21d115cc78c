// Specification of the slow provider, the test and benchmark backend: it answers
// exactly what scripts/gen-dataset writes, counts its calls, takes the configured time,
// and dies on its crash names. Its hang names are exercised in pool_test, where a
// worker process can be killed.
#include "providers/slow/slow_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "daemon/config.h"
#include "providers/files/files_provider.h"
#include "daemon/provider_factory.h"

namespace fastid::providers {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

SlowProvider::Options small(std::uint32_t users = 60, std::uint32_t groups = 7) {
  SlowProvider::Options o;
  o.name = "test";
  o.users = users;
  o.groups = groups;
  return o;
}

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST(SlowProvider, AnswersExactlyWhatGenDatasetWrites) {
  char tmpl[] = "/tmp/fastid-slow-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string cmd = "sh " FASTID_SOURCE_DIR "/scripts/gen-dataset " + dir + " 60 7";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  FilesProvider files({.name = "files", .passwd_path = dir + "/passwd", .group_path = dir + "/group"});
  ASSERT_TRUE(files.open());
  SlowProvider slow(small());
  ASSERT_TRUE(slow.open());

  for (std::uint32_t i = 1; i <= 60; ++i) {
    auto want = files.user_by_uid(100000 + i);
    ASSERT_TRUE(want.has_value());
    EXPECT_EQ(slow.user_by_uid(100000 + i).value(), *want);
    EXPECT_EQ(slow.user_by_name(want->name).value(), *want);
    EXPECT_EQ(slow.initgroups(want->name).value(), files.initgroups(want->name).value()) << want->name;
  }
  for (std::uint32_t g = 1; g <= 7; ++g) {
    auto want = files.group_by_gid(200000 + g);
    ASSERT_TRUE(want.has_value());
    EXPECT_EQ(slow.group_by_gid(200000 + g).value(), *want);
    EXPECT_EQ(slow.group_by_name(want->name).value(), *want);
  }
  std::filesystem::remove_all(dir);
}

TEST(SlowProvider, NamesAndIdsOutsideTheDatasetAreNotFound) {
  SlowProvider p(small());
  ASSERT_TRUE(p.open());
  for (const char* name : {"user00000", "user00061", "user1", "user000001", "nobody", "user", "user0000x"}) {
    auto r = p.user_by_name(name);
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code(), core::Code::kNotFound) << name;
  }
  EXPECT_EQ(p.user_by_uid(100000).error().code(), core::Code::kNotFound);
  EXPECT_EQ(p.user_by_uid(100061).error().code(), core::Code::kNotFound);
  EXPECT_EQ(p.group_by_name("group0008").error().code(), core::Code::kNotFound);
  EXPECT_EQ(p.group_by_gid(200000).error().code(), core::Code::kNotFound);
  EXPECT_EQ(p.initgroups("alice").error().code(), core::Code::kNotFound);
}

TEST(SlowProvider, NotOpenIsUnavailable) {
  SlowProvider p(small());
  EXPECT_EQ(p.user_by_name("user00001").error().code(), core::Code::kUnavailable);
  ASSERT_TRUE(p.open());
  p.close();
  EXPECT_EQ(p.users_page(0, 10).error().code(), core::Code::kUnavailable);
}

TEST(SlowProvider, DownFileMakesEveryCallUnavailableAtOnce) {
  char tmpl[] = "/tmp/fastid-slow-down.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string down = std::string(tmpl) + "/down";
  auto o = small();
  o.delay = 200ms;  // a down directory answers at once, not after the delay
  o.down_file = down;
  SlowProvider p(o);
  ASSERT_TRUE(p.open());
  { std::FILE* f = std::fopen(down.c_str(), "w"); ASSERT_NE(f, nullptr); std::fclose(f); }
  const auto start = Clock::now();
  auto u = p.user_by_name("user00001");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code(), core::Code::kUnavailable);
  EXPECT_THAT(u.error().message(), HasSubstr(down));
  EXPECT_EQ(p.user_by_uid(100001).error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.group_by_name("group0001").error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.group_by_gid(200001).error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.initgroups("user00001").error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.users_page(0, 5).error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.groups_page(0, 5).error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p.user_by_name("nobody").error().code(), core::Code::kUnavailable);  // not "not found"
  EXPECT_LT(since(start), 150ms);
  // Back when the file goes.
  std::filesystem::remove_all(tmpl);
  EXPECT_TRUE(p.user_by_name("user00001").has_value());
  EXPECT_EQ(p.user_by_name("nobody").error().code(), core::Code::kNotFound);
}

TEST(SlowProvider, EveryCallTakesTheDelayAndIsCounted) {
  auto o = small();
  o.delay = 30ms;
  SlowProvider p(o);
  ASSERT_TRUE(p.open());
  const auto start = Clock::now();
  EXPECT_TRUE(p.user_by_name("user00001").has_value());
  EXPECT_FALSE(p.user_by_name("nobody").has_value());  // a miss takes as long
  EXPECT_TRUE(p.groups_page(0, 5).has_value());
  EXPECT_GE(since(start), 90ms);
  EXPECT_EQ(p.calls(), 3u);
  EXPECT_THAT(p.stats(), ::testing::Contains(std::pair<std::string, std::string>("calls", "3")));
}

TEST(SlowProvider, SlowNamesTakeSlowDelayWhetherAskedByNameOrId) {
  auto o = small();
  o.slow_names = {"user00002"};
  o.slow_delay = 80ms;
  SlowProvider p(o);
  ASSERT_TRUE(p.open());
  auto start = Clock::now();
  EXPECT_TRUE(p.user_by_name("user00001").has_value());
  EXPECT_LT(since(start), 40ms);
  start = Clock::now();
  EXPECT_TRUE(p.user_by_name("user00002").has_value());
  EXPECT_GE(since(start), 80ms);
  start = Clock::now();
  EXPECT_TRUE(p.user_by_uid(100002).has_value());
  EXPECT_GE(since(start), 80ms);
}

TEST(SlowProviderDeathTest, CrashNamesEndTheProcess) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  auto o = small();
  o.crash_names = {"crashuser"};
  SlowProvider p(o);
  ASSERT_TRUE(p.open());
  EXPECT_TRUE(p.user_by_name("user00001").has_value());
  EXPECT_DEATH((void)p.user_by_name("crashuser"), "crashuser is in crash_names");
  EXPECT_DEATH((void)p.initgroups("crashuser"), "crash_names");
}

TEST(SlowProvider, EnumeratesEveryRecordOnceInPages) {
  SlowProvider p(small(25, 4));
  ASSERT_TRUE(p.open());
  std::uint32_t cursor = 0;
  std::uint32_t next_uid = 100001;
  for (bool more = true; more;) {
    auto page = p.users_page(cursor, 10);
    ASSERT_TRUE(page.has_value());
    for (const auto& u : page->records) EXPECT_EQ(u.uid, next_uid++);
    cursor = page->next_cursor;
    more = page->more;
  }
  EXPECT_EQ(next_uid, 100026u);
  auto groups = p.groups_page(0, 100);
  ASSERT_TRUE(groups.has_value());
  EXPECT_EQ(groups->records.size(), 4u);
  EXPECT_FALSE(groups->more);
  auto past = p.users_page(1000, 10);
  ASSERT_TRUE(past.has_value());
  EXPECT_TRUE(past->records.empty());
  EXPECT_FALSE(past->more);
}

TEST(SlowProvider, PasswordMatchesOnlyTheConfiguredOneForDatasetUsers) {
  auto o = small();
  o.password = "secret";
  SlowProvider p(o);
  ASSERT_TRUE(p.open());
  EXPECT_TRUE(p.password_matches("user00001", "secret"));
  EXPECT_FALSE(p.password_matches("user00001", "secre"));
  EXPECT_FALSE(p.password_matches("user00001", "secret!"));
  EXPECT_FALSE(p.password_matches("user00001", ""));
  EXPECT_FALSE(p.password_matches("nobody", "secret"));
  SlowProvider none(small());
  ASSERT_TRUE(none.open());
  EXPECT_FALSE(none.password_matches("user00001", ""));
}

TEST(SlowProvider, RegistryBuildsItFromTheConfigurationFile) {
  auto config = daemon::parse_config(
      "[[provider]]\n"
      "name = \"test\"\n"
      "type = \"slow\"\n"
      "users = 30\n"
      "groups = 3\n"
      "delay = \"0\"\n"
      "slow_names = [\"user00003\"]\n"
      "slow_delay = \"60ms\"\n"
      "hang_names = [\"hanguser\"]\n"
      "crash_names = [\"crashuser\"]\n"
      "password = \"secret\"\n",
      "test.toml");
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  auto made = daemon::make_provider(config->providers.at(0));
  ASSERT_TRUE(made.has_value()) << made.error().to_string();
  ASSERT_TRUE((*made)->open());
  EXPECT_EQ((*made)->name(), "test");
  EXPECT_EQ((*made)->user_by_uid(100030)->name, "user00030");
  EXPECT_EQ((*made)->user_by_uid(100031).error().code(), core::Code::kNotFound);
  EXPECT_EQ((*made)->user_by_name("user00001")->gid, 200001u);  // 200000 + (1 - 1) % 3 + 1
  const auto start = Clock::now();
  EXPECT_TRUE((*made)->user_by_name("user00003").has_value());
  EXPECT_GE(since(start), 60ms);
  auto* slow = dynamic_cast<SlowProvider*>(made->get());
  ASSERT_NE(slow, nullptr);
  EXPECT_TRUE(slow->password_matches("user00007", "secret"));
}

}  // namespace
}  // namespace fastid::providers
