// The supervisor's parts that need no daemon: the shared page of worker
// figures (written by forked children, read by anyone) and the resolution of
// the identity workers drop to.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "supervisor/privileges.h"
#include "supervisor/front_worker_figures.h"

namespace fastid::supervisor {
namespace {

std::map<std::string, std::string> as_map(const std::vector<std::pair<std::string, std::string>>& items) {
  return {items.begin(), items.end()};
}

TEST(FrontWorkerFigures, ForkedWorkersPublishAndAnyProcessReadsAllSlots) {
  auto figures = FrontWorkerFigures::create(3);
  ASSERT_TRUE(figures.has_value()) << figures.error().to_string();
  auto empty = as_map(figures->status_items());
  EXPECT_EQ(empty["workers"], "3");
  EXPECT_EQ(empty.count("worker.0.pid"), 0u) << "no worker has written yet";
  EXPECT_EQ(empty["total.requests"], "0");

  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      FrontWorkerSample s;
      s.requests = 100 * static_cast<std::uint64_t>(i + 1);
      s.connections_open = 3;
      s.idle_timeout_ms = 7000;
      s.reloads = static_cast<std::uint64_t>(i);
      figures->publish(i, s);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) ::waitpid(k, nullptr, 0);
  auto m = as_map(figures->status_items());
  EXPECT_EQ(m["worker.0.pid"], std::to_string(kids[0]));
  EXPECT_EQ(m["worker.1.pid"], std::to_string(kids[1]));
  EXPECT_EQ(m.count("worker.2.pid"), 0u);
  EXPECT_EQ(m["worker.0.requests"], "100");
  EXPECT_EQ(m["worker.1.requests"], "200");
  EXPECT_EQ(m["worker.1.reloads"], "1");
  EXPECT_EQ(m["worker.1.idle_timeout_ms"], "7000");
  EXPECT_EQ(m["total.requests"], "300");
  EXPECT_EQ(m["total.connections.open"], "6");

  figures->clear(0);  // the supervisor saw worker 0 die
  m = as_map(figures->status_items());
  EXPECT_EQ(m.count("worker.0.pid"), 0u);
  EXPECT_EQ(m["total.requests"], "200");
  // Out-of-range slots are ignored, never written.
  figures->publish(7, FrontWorkerSample{});
  figures->publish(-1, FrontWorkerSample{});
  EXPECT_EQ(as_map(figures->status_items())["total.requests"], "200");
}

TEST(FrontWorkerFigures, RefusesNoWorkersAndReportsOwnRss) {
  EXPECT_FALSE(FrontWorkerFigures::create(0).has_value());
  EXPECT_GT(self_rss_kib(), 0u);
}

TEST(Privileges, IdentitiesResolveByNameOrNumberAndRootIsRefused) {
  auto nobody = resolve_identity("nobody", "");
  ASSERT_TRUE(nobody.has_value()) << nobody.error().to_string();
  EXPECT_EQ(nobody->uid, 65534u);
  auto numeric = resolve_identity("65534", "123");
  ASSERT_TRUE(numeric.has_value()) << numeric.error().to_string();
  EXPECT_EQ(numeric->uid, 65534u);
  EXPECT_EQ(numeric->gid, 123u);
  // A uid without a passwd entry needs its group spelled out.
  EXPECT_FALSE(resolve_identity("4000123", "").has_value());
  EXPECT_TRUE(resolve_identity("4000123", "4000123").has_value());
  auto unknown = resolve_identity("no-such-user-here", "");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("no user \"no-such-user-here\""), std::string::npos);
  EXPECT_FALSE(resolve_identity("nobody", "no-such-group-here").has_value());
  EXPECT_FALSE(resolve_identity("root", "").has_value()) << "dropping to root drops nothing";
  EXPECT_FALSE(resolve_identity("0", "0").has_value());
}

TEST(Privileges, AForkedChildDropsForGoodAndCannotRegainRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto who = resolve_identity("nobody", "");
  ASSERT_TRUE(who.has_value());
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!drop_to(*who)) ::_exit(10);
    if (::getuid() != 65534 || ::geteuid() != 65534) ::_exit(11);
    if (::setuid(0) == 0) ::_exit(12);
    gid_t groups[8];
    int n = ::getgroups(8, groups);
    if (n != 1 || groups[0] != who->gid) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace fastid::supervisor
