// Specification of fastid::auth: lockout, per-uid rate limits and the offline
// credentials file. Time is passed in: no test sleeps.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/lockout.h"
#include "auth/offline_credentials.h"
#include "core/secret.h"

namespace fastid::auth {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Lockout::Options three_in_a_minute() { return {3, 60s, 30s}; }

TEST(Lockout, LocksAfterMaxFailuresWithinTheWindowForLockoutTime) {
  Lockout l(three_in_a_minute());
  const auto t0 = Clock::now();
  EXPECT_FALSE(l.record_failure("alice", t0));
  EXPECT_FALSE(l.record_failure("alice", t0 + 1s));
  EXPECT_FALSE(l.locked_until("alice", t0 + 2s));
  EXPECT_TRUE(l.record_failure("alice", t0 + 2s));
  auto until = l.locked_until("alice", t0 + 3s);
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(*until, t0 + 2s + 30s);
  EXPECT_FALSE(l.locked_until("bob", t0 + 3s)) << "other users are not affected";
  EXPECT_TRUE(l.locked_until("alice", t0 + 31s));
  EXPECT_FALSE(l.locked_until("alice", t0 + 32s)) << "unlocked after lockout_time";
  EXPECT_EQ(l.lockouts(), 1u);
}

TEST(Lockout, SpellingsThatDifferInCaseShareOneCount) {
  Lockout l(three_in_a_minute());
  const auto t0 = Clock::now();
  l.record_failure("alice", t0);
  l.record_failure("Alice", t0);
  EXPECT_TRUE(l.record_failure("ALICE", t0));
  EXPECT_TRUE(l.locked_until("aLiCe", t0));
}

TEST(Lockout, FailuresOlderThanTheWindowDoNotCount) {
  Lockout l(three_in_a_minute());
  const auto t0 = Clock::now();
  l.record_failure("alice", t0);
  l.record_failure("alice", t0 + 30s);
  EXPECT_FALSE(l.record_failure("alice", t0 + 61s)) << "the first one is out of the window";
  EXPECT_TRUE(l.record_failure("alice", t0 + 62s));
}

TEST(Lockout, SuccessForgetsFailuresAndZeroMaxFailuresNeverLocks) {
  Lockout l(three_in_a_minute());
  const auto t0 = Clock::now();
  l.record_failure("alice", t0);
  l.record_failure("alice", t0);
  l.record_success("alice");
  EXPECT_FALSE(l.record_failure("alice", t0));
  Lockout never({0, 60s, 30s});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(never.record_failure("alice", t0));
  EXPECT_FALSE(never.locked_until("alice", t0));
}

TEST(Lockout, MemoryIsBoundedUnderManyNames) {
  Lockout l({1000, 60s, 30s});
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < Lockout::kMaxTracked + 5000; ++i) {
    l.record_failure("u" + std::to_string(i), t0 + std::chrono::milliseconds(i));
  }
  EXPECT_LE(l.tracked(), Lockout::kMaxTracked);
}

TEST(RateLimiter, BurstThenRatePerUid) {
  RateLimiter r(2, 4);
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.allow(1000, t0)) << i;
  EXPECT_FALSE(r.allow(1000, t0));
  EXPECT_TRUE(r.allow(1001, t0)) << "each uid has its own bucket";
  EXPECT_TRUE(r.allow(1000, t0 + 500ms)) << "2 per second: one token after 500 ms";
  EXPECT_FALSE(r.allow(1000, t0 + 500ms));
  EXPECT_EQ(r.refused(), 2u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.allow(1000, t0 + 1h)) << "refills up to the burst";
  EXPECT_FALSE(r.allow(1000, t0 + 1h));
}

class Offline : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fastid-auth-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/offline"; }
  std::string text() const {
    std::ifstream in(path());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

TEST_F(Offline, RememberedPasswordVerifiesAndIsStoredAsASaltedHashOnly) {
  OfflineCredentials c(path(), 3600s);
  EXPECT_EQ(c.verify("alice", "pw-a").code(), core::Code::kNotFound) << "no file yet";
  ASSERT_TRUE(c.remember("alice", "pw-a"));
  ASSERT_TRUE(c.remember("bob", "pw-b"));
  EXPECT_TRUE(c.verify("alice", "pw-a"));
  EXPECT_EQ(c.verify("alice", "pw-b").code(), core::Code::kPermissionDenied);
  EXPECT_TRUE(c.verify("bob", "pw-b"));
  EXPECT_EQ(c.verify("carol", "pw-a").code(), core::Code::kNotFound);
  EXPECT_TRUE(c.has("alice"));
  const std::string t = text();
  EXPECT_EQ(t.find("pw-a"), std::string::npos);
  EXPECT_NE(t.find("alice:$y$"), std::string::npos) << t;
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Two logins with one password give two different hashes (salted).
  ASSERT_TRUE(c.remember("bob", "pw-a"));
  const std::string t2 = text();
  const auto alice_hash =
      t2.substr(t2.find("alice:"), t2.find('\n', t2.find("alice:")) - t2.find("alice:"));
  const auto bob_hash =
      t2.substr(t2.find("bob:"), t2.find('\n', t2.find("bob:")) - t2.find("bob:"));
  EXPECT_NE(alice_hash.substr(6, 40), bob_hash.substr(4, 40));
}

TEST_F(Offline, ForgetDropsTheLineAndReplacingKeepsOneLinePerUser) {
  OfflineCredentials c(path(), 3600s);
  ASSERT_TRUE(c.remember("alice", "old"));
  ASSERT_TRUE(c.remember("alice", "new"));
  EXPECT_EQ(c.verify("alice", "old").code(), core::Code::kPermissionDenied);
  EXPECT_TRUE(c.verify("alice", "new"));
  const std::string t = text();
  EXPECT_EQ(t.find("alice:"), t.rfind("alice:")) << t;
  ASSERT_TRUE(c.forget("alice"));
  EXPECT_EQ(c.verify("alice", "new").code(), core::Code::kNotFound);
  EXPECT_FALSE(c.has("alice"));
}

TEST_F(Offline, AFileOthersCouldWriteIsNotTrusted) {
  OfflineCredentials c(path(), 3600s);
  ASSERT_TRUE(c.remember("alice", "pw"));
  ASSERT_EQ(::chmod(path().c_str(), 0666), 0);
  EXPECT_EQ(c.verify("alice", "pw").code(), core::Code::kUnavailable);
}

TEST_F(Offline, OldCredentialsAreNotUsed) {
  {
    std::ofstream out(path());
    out << "alice:$y$j9T$abcdefghijklmnop$0123456789012345678901234567890123456789012:1000\n";
  }
  ::chmod(path().c_str(), 0600);
  OfflineCredentials c(path(), 3600s);
  EXPECT_EQ(c.verify("alice", "anything").code(), core::Code::kNotFound) << "from 1970: too old";
}

TEST(Secret, CopiesAreDeepAndComparisonIsByValue) {
  core::Secret a("hunter2");
  core::Secret b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.view(), "hunter2");
  core::Secret c = std::move(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(c.view(), "hunter2");
  c.assign("other");
  EXPECT_FALSE(a == c);
  EXPECT_EQ(a.view(), "hunter2");
}

}  // namespace
}  // namespace fastid::auth
