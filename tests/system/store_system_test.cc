// The persistent store and offline mode, through the real daemon and real
// glibc (nss_query: getpwnam_r and friends, whose return value shows EAGAIN
// for "try again" and 0 with no result for "no such user"). The directory is
// the slow provider; its down_file switch makes every call fail as
// "unavailable", as a directory that went away does. The fast cache is off,
// so every lookup reaches the daemon and its store.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/load_runs.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;


double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class StoreSystemTest : public ::testing::Test {
 protected:
  // The dataset files are not used (the slow provider makes its own); the
  // fixture gives the folder, the daemon's start/stop and the environment.
  StoreSystemTest() : d_(10, 2) {}

  void configure(const std::string& store_keys) {
    d_.write_config(
        "[daemon]\nsocket_dir = \"" + d_.socket_dir() + "\"\nstate_dir = \"" + d_.dir() +
        "/state\"\nlog_level = \"info\"\n\n[store]\n" + store_keys +
        "\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
        "initgroups = { enabled = false }\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\n"
        "users = 2000\ngroups = 100\ndown_file = \"" +
        down_file() + "\"\n");
  }

  std::string down_file() const { return d_.dir() + "/down"; }
  void directory_down() { write_file(down_file(), ""); }
  void directory_up() { fs::remove(down_file()); }

  // nss_query through glibc; stderr is in out, after stdout.
  CommandResult query(const std::string& args) const {
    return run(d_.env() + bin_dir() + "/nss_query " + args + " 2>&1");
  }

  std::string status_value(const std::string& key) const { return d_.status_value(key); }
  long counter(const std::string& key) const { return d_.status_figure(key); }

  static long occurrences(const std::string& text, const std::string& what) {
    long n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }

  // Sampled lookups of every kind; what they print is the expected answer later.
  std::vector<std::string> sample_queries() const {
    std::vector<std::string> q;
    for (int i = 1; i <= 1500; i += 97) {
      char user[16], group[16];
      std::snprintf(user, sizeof user, "user%05d", i);
      std::snprintf(group, sizeof group, "group%04d", i % 100 + 1);
      q.push_back(std::string("passwd ") + user);
      q.push_back("passwd " + std::to_string(100000 + i + 1));  // by uid, another user
      q.push_back(std::string("group ") + group);
      q.push_back("group " + std::to_string(200000 + (i + 7) % 100 + 1));  // by gid
      q.push_back(std::string("groups ") + user);
    }
    return q;
  }

  Daemon d_;
};

TEST_F(StoreSystemTest, OfflineAnswersStoredEntriesFailsFastForOthersAndComesBackByItself) {
  configure("");  // defaults: probe_interval 5s, so back online within 15 s
  ASSERT_TRUE(d_.start()) << d_.log();
  std::map<std::string, std::string> expected;
  for (const auto& q : sample_queries()) {
    auto r = query(q);
    ASSERT_EQ(r.exit_code, 0) << q << ": " << r.out;
    expected[q] = r.out;
  }
  EXPECT_EQ(status_value("store.dir.state"), "online");

  directory_down();
  // Entries already in the store: answered, whole, every one.
  for (const auto& [q, out] : expected) {
    auto r = query(q);
    EXPECT_EQ(r.exit_code, 0) << q << ": " << r.out;
    EXPECT_EQ(r.out, out) << q;
  }
  // A user the store has never seen: "try again" (EAGAIN), never "no such
  // user", and without waiting: the client would wait a minute here, so a
  // lookup that waited for anything (a timeout, a retry's backoff) would take
  // far longer than the bound below, on any machine.
  for (const char* name : {"user01999", "user01998", "nosuchuser", "user01999"}) {
    auto r = run("FASTID_TIMEOUT_MS=60000 " + d_.env() + bin_dir() + "/nss_query passwd " + name + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << name << ": " << r.out;
    EXPECT_NE(r.out.find("Resource temporarily unavailable"), std::string::npos)
        << name << ": " << r.out;
    EXPECT_LT(r.seconds, 20.0) << name;
  }
  auto unknown_group = query("group 299999");
  EXPECT_EQ(unknown_group.exit_code, 1) << unknown_group.out;
  EXPECT_EQ(status_value("store.dir.state"), "offline");
  EXPECT_GT(counter("store.dir.unavailable"), 0);
  // getent, the operator's view: nothing printed, nothing crashed.
  auto g = d_.getent("passwd user01999");
  EXPECT_EQ(g.exit_code, 2) << g.out;
  auto cached = d_.getent("passwd user00001");
  EXPECT_EQ(cached.exit_code, 0) << cached.out;

  // The directory returns: back online by the probe, within 15 s, by itself.
  const auto back = Clock::now();
  directory_up();
  while (status_value("store.dir.state") != "online" && ms_since(back) < 20000)
    std::this_thread::sleep_for(100ms);
  const double took = ms_since(back);
  std::printf("back online %.0f ms after the directory returned (probe_interval 5s)\n", took);
  EXPECT_LT(took, 15000) << d_.log();
  auto now_known = query("passwd user01999");
  EXPECT_EQ(now_known.exit_code, 0) << now_known.out;
  auto really_unknown = query("passwd nosuchuser");
  EXPECT_EQ(really_unknown.exit_code, 2) << really_unknown.out;  // "no such user" again

  // One log line per transition, whatever the number of failed lookups.
  const std::string log = d_.log();
  EXPECT_EQ(occurrences(log, "provider dir is offline"), 1) << log;
  EXPECT_EQ(occurrences(log, "provider dir is back online"), 1) << log;
}

TEST_F(StoreSystemTest, OneEntryThatHangsDoesNotTakeTheProviderOffline) {
  configure("");
  std::string config = read_file(d_.config_path());
  config += "hang_names = [\"user00007\"]\npool = { request_timeout = \"300ms\" }\n";
  d_.write_config(config);
  ASSERT_TRUE(d_.start()) << d_.log();
  auto hung = query("passwd user00007");
  EXPECT_EQ(hung.exit_code, 1) << hung.out;  // "try again": the directory did not answer it
  EXPECT_NE(hung.out.find("Resource temporarily unavailable"), std::string::npos) << hung.out;
  // The probe finds the directory answering: still online, others served.
  EXPECT_TRUE(wait_until([&] { return counter("store.dir.probes") >= 1; }));
  EXPECT_EQ(status_value("store.dir.state"), "online");
  auto other = query("passwd user00008");
  EXPECT_EQ(other.exit_code, 0) << other.out;
  EXPECT_EQ(d_.log().find("is offline"), std::string::npos) << d_.log();
}

TEST_F(StoreSystemTest, RestartedWhileTheDirectoryIsDownStillAnswersStoredEntries) {
  configure("probe_interval = \"300ms\"\n");
  ASSERT_TRUE(d_.start()) << d_.log();
  std::map<std::string, std::string> expected;
  for (const auto& q : sample_queries()) {
    auto r = query(q);
    ASSERT_EQ(r.exit_code, 0) << q << ": " << r.out;
    expected[q] = r.out;
  }
  int st = d_.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

  directory_down();
  ASSERT_TRUE(d_.start()) << d_.log();
  for (const auto& [q, out] : expected) {
    auto r = query(q);
    EXPECT_EQ(r.exit_code, 0) << q << ": " << r.out;
    EXPECT_EQ(r.out, out) << q;
  }
  auto unknown = query("passwd user01999");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("Resource temporarily unavailable"), std::string::npos) << unknown.out;
  EXPECT_GT(counter("store.dir.hits"), 0);

  // Also after SIGKILL (no orderly stop, no final sync): the store opens again.
  d_.stop(SIGKILL);
  ASSERT_TRUE(d_.start()) << d_.log();
  auto after_kill = query("passwd user00001");
  EXPECT_EQ(after_kill.exit_code, 0) << after_kill.out;
  EXPECT_EQ(d_.log().find("moving it aside"), std::string::npos) << d_.log();
}

TEST_F(StoreSystemTest, NegativeAnswersRefreshAheadExpiryAndOfflineMaxAge) {
  configure(
      "ttl = \"1s\"\nnegative_ttl = \"1s\"\nrefresh_ahead = \"500ms\"\noffline_max_age = \"4s\"\n"
      "probe_interval = \"200ms\"\n");
  ASSERT_TRUE(d_.start()) << d_.log();

  // "No such user" is stored for negative_ttl and answered from the store.
  EXPECT_EQ(query("passwd nosuchuser").exit_code, 2);
  EXPECT_EQ(query("passwd nosuchuser").exit_code, 2);
  EXPECT_GE(counter("store.dir.negative_hits"), 1);

  // A hit with less than refresh_ahead left is answered and refreshed in
  // the background (the refresh timer ticks every second).
  const auto t0 = Clock::now();
  ASSERT_EQ(query("passwd user00005").exit_code, 0);
  std::this_thread::sleep_until(t0 + 600ms);
  ASSERT_EQ(query("passwd user00005").exit_code, 0);
  const long hits_before = counter("store.dir.hits");
  EXPECT_GE(hits_before, 1);
  const auto refresh_deadline = Clock::now() + 30s;
  while (counter("store.dir.refreshed") < 1 && Clock::now() < refresh_deadline)
    std::this_thread::sleep_for(100ms);
  EXPECT_GE(counter("store.dir.refreshed"), 1);
  const auto refreshed_at = Clock::now();

  // Expired and the directory down: the expired entry is answered (stale).
  directory_down();
  std::this_thread::sleep_until(refreshed_at + 1200ms);
  auto stale = query("passwd user00005");
  EXPECT_EQ(stale.exit_code, 0) << stale.out;
  EXPECT_GE(counter("store.dir.stale_answers"), 1);
  EXPECT_EQ(status_value("store.dir.state"), "offline");

  // Past offline_max_age (4 s after its last fetch) it is not answered any more.
  std::this_thread::sleep_until(refreshed_at + 4500ms);
  auto too_old = query("passwd user00005");
  EXPECT_EQ(too_old.exit_code, 1) << too_old.out;
  EXPECT_NE(too_old.out.find("Resource temporarily unavailable"), std::string::npos) << too_old.out;
}

TEST_F(StoreSystemTest, RefreshAheadNeverMakesTheRequestWait) {
  configure("ttl = \"20s\"\nrefresh_ahead = \"19500ms\"\n");
  std::string config = read_file(d_.config_path());
  config += "delay = \"4s\"\n";  // every directory call takes 4 s
  d_.write_config(config);
  ASSERT_TRUE(d_.start()) << d_.log();
  auto miss = run("FASTID_TIMEOUT_MS=60000 " + d_.env() + bin_dir() + "/nss_query passwd user00011 2>&1");
  ASSERT_EQ(miss.exit_code, 0) << miss.out;
  EXPECT_GE(miss.seconds, 4.0);        // went to the directory
  std::this_thread::sleep_for(700ms);  // now less than refresh_ahead is left
  auto hit = run("FASTID_TIMEOUT_MS=60000 " + d_.env() + bin_dir() + "/nss_query passwd user00011 2>&1");
  ASSERT_EQ(hit.exit_code, 0) << hit.out;
  EXPECT_EQ(hit.out, miss.out);
  // An order, not a time: a hit that waited for its refresh would come back
  // after the 4 s directory call, with the refresh counted.
  EXPECT_EQ(counter("store.dir.refreshed"), 0) << "the hit waited for its refresh";
  // The refresh happens behind it: the timer ticks every second, the call takes 4 s.
  const auto deadline = Clock::now() + 30s;
  while (counter("store.dir.refreshed") < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(counter("store.dir.refreshed"), 1);
  EXPECT_EQ(counter("store.dir.misses"), 1);
}

TEST_F(StoreSystemTest, ReadyWithinHalfASecondWithAStoreOf100000Entries) {
  configure("");
  // 50,000 users stored by name and by uid, written as fastidd writes them.
  auto fill = run(bin_dir() + "/store_fill " + d_.dir() + "/state/store dir 50000");
  ASSERT_EQ(fill.exit_code, 0) << fill.out;
  EXPECT_EQ(fill.out, "100000 entries\n");
  // Down: whatever answers comes from the store.
  directory_down();
  const auto t0 = Clock::now();
  ASSERT_TRUE(d_.start()) << d_.log();
  CommandResult r;
  do {
    r = query("passwd user49999");
  } while (r.exit_code != 0 && ms_since(t0) < 30000);
  const double ready = ms_since(t0);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("user49999:x:149999:200999:User 49999;ck=", 0), 0u) << r.out;
  std::printf("first stored answer %.0f ms after start with 100,000 entries (target 500 ms)\n",
              ready);
  // Target 500 ms; the margin is for a machine shared with builds.
  // The 500 ms target is printed above, not asserted: a time that close
  // would race a loaded machine. What must not happen, a start that waits
  // for the directory (down here) before answering from the store, never
  // answers at all and fails this bound.
  EXPECT_LT(ready, 20000);
}

TEST_F(StoreSystemTest, WorkersShareOneStore) {
  configure("");
  ASSERT_TRUE(d_.start({"-w", "2"})) << d_.log();
  for (const auto& q : sample_queries()) ASSERT_EQ(query(q).exit_code, 0) << q;
  // Whichever worker answers next, the record is there for it.
  directory_down();
  for (int round = 0; round < 4; ++round) {
    for (const auto& q : sample_queries()) EXPECT_EQ(query(q).exit_code, 0) << q;
  }
  EXPECT_EQ(d_.log().find("moving it aside"), std::string::npos) << d_.log();
}

// The processes a daemon started (its provider workers), from /proc.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::istringstream in(read_file(task.path().string() + "/children"));
    for (long child; in >> child;) out.push_back(static_cast<pid_t>(child));
  }
  return out;
}

// Loads of 2,000 lookups through glibc while the directory goes down, its
// provider process is SIGKILLed, it comes back, three times over. Every
// entry the loads ask for is in the store (an earlier 10,000-lookup load put
// it there; nss_stress's sequence is fixed) but expired, so lookups go to the
// directory while it answers and to the store while it does not: none may
// fail. The loads run back to back from before the first outage until every
// entry has expired once after the last (ttl 1 s), however fast one finishes.
TEST_F(StoreSystemTest, EveryStoredEntryAnswersThroughOutagesInTheMiddleOfALoad) {
  Daemon d(300, 30);  // gen-dataset files equal to the slow provider's answers
  d.write_config(
      "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
      "/state\"\n\n[store]\nttl = \"1s\"\nrefresh_ahead = \"300ms\"\nprobe_interval = \"300ms\"\n"
      "\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
      "initgroups = { enabled = false }\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\n"
      "users = 300\ngroups = 30\ndelay = \"1ms\"\ndown_file = \"" +
      d.dir() + "/down\"\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::string stress = d.env() + bin_dir() + "/nss_stress " + d.dir() + "/data/passwd " +
                             d.dir() + "/data/group 1 ";
  auto warm = run(stress + "10000 2>&1");
  ASSERT_EQ(warm.exit_code, 0) << warm.out << d.log();
  std::this_thread::sleep_for(1200ms);  // every stored entry has expired (a lower bound: more is fine)

  // Outage cycles, each one driven by what the daemon says rather than by
  // times: the directory stops until the daemon has taken it offline, comes
  // back until the daemon is online again, then one of its provider
  // processes is SIGKILLed. One per cycle: the pool retries a request whose
  // worker died once, on another worker, and gives up (an error, by design)
  // when that one dies too, which killing every worker at once can make
  // happen.
  constexpr int kCycles = 3;
  int killed = 0, went_offline = 0, came_back = 0;
  const LoadRuns loads = load_around(stress + "2000 2>&1", [&] {
    for (int cycle = 0; cycle < kCycles; ++cycle) {
      write_file(d.dir() + "/down", "");
      went_offline += wait_until([&] { return d.status_value("store.dir.state") == "offline"; });
      fs::remove(d.dir() + "/down");
      came_back += wait_until([&] { return d.status_value("store.dir.state") == "online"; });
      const std::vector<pid_t> children = children_of(d.pid());
      if (!children.empty()) killed += ::kill(children.front(), SIGKILL) == 0;
    }
  }, 1500ms);
  EXPECT_EQ(went_offline, kCycles) << d.log();
  EXPECT_EQ(came_back, kCycles) << d.log();
  std::printf(
      "%ld lookups in %d loads of 2,000 through %d outage cycles, %ld ok (%d provider process(es) SIGKILLed)\n",
      loads.lookups, loads.runs, kCycles, loads.ok, killed);
  EXPECT_GE(loads.runs, 1);
  EXPECT_EQ(loads.lookups, loads.runs * 2000L) << loads.failed_outputs;
  EXPECT_EQ(loads.error, 0) << loads.failed_outputs;
  EXPECT_EQ(loads.notfound, 0) << loads.failed_outputs;
  EXPECT_EQ(loads.ok, loads.lookups) << loads.failed_outputs << d.log();
  EXPECT_EQ(loads.failed_runs, 0) << loads.failed_outputs;
  EXPECT_GT(killed, 0);
  const std::string log = d.log();
  EXPECT_GE(occurrences(log, "provider dir is offline"), kCycles) << log;  // a SIGKILL may add one
}

}  // namespace
}  // namespace fastid::testing
