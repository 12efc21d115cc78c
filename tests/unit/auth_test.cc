// Specification of fastid::auth: lockout, per-uid rate limits and the offline
// credentials file. Time is passed in: no test sleeps.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "auth/lockout.h"
#include "auth/rate_limiter.h"
#include "auth/offline_credentials.h"
#include "core/secret.h"

namespace fastid::auth {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Lockout::Options three_in_a_minute() { return {3, 60s, 30s, 5min}; }

std::shared_ptr<LockoutTable> table() {
  auto t = LockoutTable::create();
  if (!t) std::abort();
  return *t;
}

// One finished wrong guess; true when it locked the user.
bool wrong(Lockout& l, std::string_view user, Clock::time_point now) {
  Lockout::Attempt a;
  if (l.begin(user, now, &a).admission != Lockout::Admission::kAdmitted) return false;
  return l.fail(a, now);
}

TEST(Lockout, LocksAfterMaxFailuresWithinTheWindowForLockoutTime) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  EXPECT_FALSE(wrong(l, "alice", t0));
  EXPECT_FALSE(wrong(l, "alice", t0 + 1s));
  EXPECT_FALSE(l.locked_until("alice", t0 + 2s));
  EXPECT_TRUE(wrong(l, "alice", t0 + 2s));
  auto until = l.locked_until("alice", t0 + 3s);
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(*until, t0 + 2s + 30s);
  Lockout::Attempt a;
  EXPECT_EQ(l.begin("alice", t0 + 3s, &a).admission, Lockout::Admission::kLocked);
  EXPECT_FALSE(l.locked_until("bob", t0 + 3s)) << "other users are not affected";
  EXPECT_TRUE(l.locked_until("alice", t0 + 31s));
  EXPECT_FALSE(l.locked_until("alice", t0 + 32s)) << "unlocked after lockout_time";
  EXPECT_EQ(l.lockouts(), 1u);
}

TEST(Lockout, SpellingsThatDifferInCaseShareOneCount) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  wrong(l, "alice", t0);
  wrong(l, "Alice", t0);
  EXPECT_TRUE(wrong(l, "ALICE", t0));
  EXPECT_TRUE(l.locked_until("aLiCe", t0));
}

TEST(Lockout, FailuresOlderThanTheWindowDoNotCount) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  wrong(l, "alice", t0);
  wrong(l, "alice", t0 + 30s);
  EXPECT_FALSE(wrong(l, "alice", t0 + 61s)) << "the first one is out of the window";
  EXPECT_TRUE(wrong(l, "alice", t0 + 62s));
}

TEST(Lockout, SuccessForgetsFailuresAndZeroMaxFailuresNeverLocks) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  wrong(l, "alice", t0);
  wrong(l, "alice", t0);
  Lockout::Attempt a;
  ASSERT_EQ(l.begin("alice", t0, &a).admission, Lockout::Admission::kAdmitted);
  l.succeed(a, t0);
  EXPECT_FALSE(wrong(l, "alice", t0));
  Lockout never(table(), {0, 60s, 30s, 5min});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(wrong(never, "alice", t0));
  EXPECT_FALSE(never.locked_until("alice", t0));
}

// The race of issue #11: attempts in flight count before any source is asked.
TEST(Lockout, AttemptsInFlightCountAgainstMaxFailures) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  Lockout::Attempt a[5];
  int admitted = 0;
  for (auto& x : a) admitted += l.begin("alice", t0, &x).admission == Lockout::Admission::kAdmitted;
  EXPECT_EQ(admitted, 3);
  Lockout::Attempt more;
  EXPECT_EQ(l.begin("alice", t0, &more).admission, Lockout::Admission::kTooManyInFlight);
  {
    Lockout::Attempt gone = std::move(a[2]);  // ended without a verdict: its place is free again
  }
  EXPECT_EQ(l.begin("alice", t0, &more).admission, Lockout::Admission::kAdmitted);
  EXPECT_FALSE(l.fail(a[0], t0));
  EXPECT_FALSE(l.fail(a[1], t0));
  EXPECT_TRUE(l.fail(more, t0));
  EXPECT_TRUE(l.locked_until("alice", t0 + 1s));
}

TEST(Lockout, ASuccessThatEndsAfterTheLockDoesNotLiftIt) {
  Lockout l(table(), {3, 60s, 30s, 10s});
  const auto t0 = Clock::now();
  Lockout::Attempt right;
  ASSERT_EQ(l.begin("alice", t0, &right).admission, Lockout::Admission::kAdmitted);
  // The right password's source is slow: past attempt_lifetime its
  // reservation lapses, three guesses lock the user, then it completes.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(wrong(l, "alice", t0 + 10s));
  EXPECT_TRUE(wrong(l, "alice", t0 + 10s));
  l.succeed(right, t0 + 11s);
  EXPECT_TRUE(l.locked_until("alice", t0 + 12s)) << "the success came after the lock";
}

TEST(Lockout, OneTableIsSharedByForkedProcesses) {
  auto t = table();
  Lockout l(t, three_in_a_minute());
  const auto t0 = Clock::now();
  Lockout::Attempt held;
  ASSERT_EQ(l.begin("alice", t0, &held).admission, Lockout::Admission::kAdmitted);
  const pid_t child = ::fork();
  if (child == 0) {
    Lockout mine(t, three_in_a_minute());
    wrong(mine, "alice", t0);
    Lockout::Attempt a;
    // One failure and one reservation (the parent's) of three: one more fits.
    const bool one_more = mine.begin("alice", t0, &a).admission == Lockout::Admission::kAdmitted;
    Lockout::Attempt b;
    const bool full = mine.begin("alice", t0, &b).admission == Lockout::Admission::kTooManyInFlight;
    ::_exit(one_more && full ? 0 : 1);  // a and b are never released: the process "dies"
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Lockout::Attempt a;
  EXPECT_EQ(l.begin("alice", t0, &a).admission, Lockout::Admission::kTooManyInFlight)
      << "the dead child's reservation still counts until the supervisor drops it";
  t->release_owner(child);
  EXPECT_EQ(l.begin("alice", t0, &a).admission, Lockout::Admission::kAdmitted);
  EXPECT_FALSE(l.fail(a, t0));
  EXPECT_TRUE(l.fail(held, t0));
}

TEST(Lockout, AWorkerThatDiesHoldingTheMutexDoesNotStopTheOthers) {
  auto t = table();
  Lockout l(t, three_in_a_minute());
  const pid_t child = ::fork();
  if (child == 0) {
    t->hold_lock_forever_for_test();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  const auto t0 = Clock::now();
  wrong(l, "alice", t0);
  wrong(l, "alice", t0);
  EXPECT_TRUE(wrong(l, "alice", t0));
  EXPECT_TRUE(l.locked_until("alice", t0));
}

TEST(Lockout, ReservationsLapseAfterTheAttemptLifetime) {
  Lockout l(table(), {2, 60s, 30s, 10s});
  const auto t0 = Clock::now();
  Lockout::Attempt a, b, c;
  ASSERT_EQ(l.begin("alice", t0, &a).admission, Lockout::Admission::kAdmitted);
  ASSERT_EQ(l.begin("alice", t0, &b).admission, Lockout::Admission::kAdmitted);
  EXPECT_EQ(l.begin("alice", t0 + 9s, &c).admission, Lockout::Admission::kTooManyInFlight);
  EXPECT_EQ(l.begin("alice", t0 + 10s, &c).admission, Lockout::Admission::kAdmitted);
}

TEST(Lockout, MemoryIsBoundedAndLocksOutliveSprayedNames) {
  Lockout l(table(), three_in_a_minute());
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) wrong(l, "victim", t0);
  ASSERT_TRUE(l.locked_until("victim", t0));
  for (std::size_t i = 0; i < LockoutTable::kSlots * 4; ++i) {
    wrong(l, "u" + std::to_string(i), t0 + std::chrono::milliseconds(i));
  }
  EXPECT_LE(l.tracked(), LockoutTable::kSlots);
  EXPECT_TRUE(l.locked_until("victim", t0 + 20s))
      << "unlocked names seen long ago go first, never a lock";
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

// The daemon runs these calls on its offload pool's threads: one instance
// shared by threads at once loses no line (each call rewrites the whole file)
// and TSan sees no race (`tsan` label).
TEST_F(Offline, CallsFromSeveralThreadsAtOnceLoseNoLine) {
  OfflineCredentials c(path(), 3600s);
  constexpr int kThreads = 3, kUsers = 2;  // yescrypt is slow: few hashes
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, &failures, t] {
      for (int u = 0; u < kUsers; ++u) {
        const std::string user = "user" + std::to_string(t) + "x" + std::to_string(u);
        if (!c.remember(user, "pw-" + user)) ++failures;
        if (!c.verify(user, "pw-" + user)) ++failures;
        if (!c.has(user)) ++failures;
      }
      if (!c.forget("user" + std::to_string(t) + "x0")) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_FALSE(c.has("user" + std::to_string(t) + "x0"));
    for (int u = 1; u < kUsers; ++u) {
      const std::string user = "user" + std::to_string(t) + "x" + std::to_string(u);
      EXPECT_TRUE(c.verify(user, "pw-" + user)) << user << "'s line was lost";
    }
  }
}

// Every front worker process opens the file itself: processes saving logins
// at the same moment must not overwrite each other's lines (each rewrite is
// read, change, rename; a lock file orders them across processes).
TEST_F(Offline, ProcessesSavingAtOnceLoseNoLine) {
  constexpr int kProcesses = 4, kUsers = 6;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      OfflineCredentials c(path(), 3600s);
      int failures = 0;
      for (int u = 0; u < kUsers; ++u) {
        const std::string user = "proc" + std::to_string(p) + "x" + std::to_string(u);
        if (!c.remember(user, "pw-" + user)) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a child's remember failed";
  }
  OfflineCredentials c(path(), 3600s);
  int lost = 0;
  for (int p = 0; p < kProcesses; ++p) {
    for (int u = 0; u < kUsers; ++u) {
      const std::string user = "proc" + std::to_string(p) + "x" + std::to_string(u);
      if (!c.verify(user, "pw-" + user)) ++lost;
    }
  }
  EXPECT_EQ(lost, 0) << "of " << kProcesses * kUsers << " lines saved by " << kProcesses
                     << " processes at once";
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

TEST_F(Offline, CredentialsDatedInTheFutureAreNotUsed) {
  OfflineCredentials c(path(), 3600s);
  ASSERT_TRUE(c.remember("alice", "pw"));
  ASSERT_TRUE(c.verify("alice", "pw"));
  // The same hash, dated one day ahead: a clock set back, or a forged line.
  std::string t = text();
  const std::size_t colon = t.rfind(':');
  const long when = std::stol(t.substr(colon + 1));
  t = t.substr(0, colon + 1) + std::to_string(when + 86400) + "\n";
  {
    std::ofstream out(path(), std::ios::trunc);
    out << t;
  }
  EXPECT_EQ(c.verify("alice", "pw").code(), core::Code::kNotFound);
  EXPECT_FALSE(c.has("alice"));
}

TEST(Secret, CopiesAreDeepAndMovesLeaveNothingBehind) {
  core::Secret a("hunter2");
  core::Secret b = a;
  EXPECT_EQ(b.view(), "hunter2");
  EXPECT_NE(static_cast<const void*>(a.view().data()), static_cast<const void*>(b.view().data()));
  core::Secret c = std::move(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(c.view(), "hunter2");
  c.assign("other");
  EXPECT_EQ(c.view(), "other");
  EXPECT_EQ(a.view(), "hunter2");
}

}  // namespace
}  // namespace fastid::auth
