// Large replies that are not a files provider's (issue 20), through the real
// nss socket with raw frames (support/raw_client.h):
// - an LDAP group of 50,000 members (a private slapd, support/slapd_fixture.h)
//   answered from the store is encoded once per stored record version (the
//   record's stamp, store::RecordStamp) and shared by every reply to it, so
//   200 slow readers cost the front worker neither a copy each nor a loop
//   turn over 10 ms; a group changed in the directory is answered with its
//   new members at once after an invalidation, or after a refresh rewrote
//   its still-fresh record — never from the old payload;
// - the front worker's budget of large replies in flight
//   (`max_large_reply_bytes`, server/reply_budget.h): slow readers of many
//   uids asking for distinct large groups cannot take its memory past the
//   budget; past it they are answered "busy", root keeps its reserve, and
//   other clients are served.
// Each case prints its figures ("[figure] ..."); docs/reliability.md "Hostile
// local clients" lists them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "support/daemon_fixture.h"
#include "support/process_figures.h"
#include "support/raw_client.h"
#include "support/slapd_fixture.h"
#include "support/slow_readers.h"
#include "support/stored_daemon.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kMembers = 50000;
constexpr int kStallSeconds = 1;  // the tests' [daemon] stall_timeout
constexpr long kMaxTurnUs = 10000;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

proto::Request getgrnam(std::uint32_t id, const std::string& name) {
  return name_request(proto::Opcode::kGetgrnam, id, name);
}

// The group `name` as a reply on a new connection (nullopt: no reply).
std::optional<model::Group> ask_group(const std::string& socket, const std::string& name, std::uint32_t* status) {
  int fd = connect_unix(socket);
  if (fd < 0) return std::nullopt;
  auto reply = exchange(fd, getgrnam(7, name), 20000);
  ::close(fd);
  if (!reply) return std::nullopt;
  *status = reply->header.status;
  if (reply->header.status != 0) return std::nullopt;
  auto group = model::answer_as<model::Group>(proto::decode_answer(model::Kind::kGroupByName, *reply));
  if (!group) return std::nullopt;
  return std::move(*group);
}

void raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

// ---- The 50,000-member LDAP group, answered from the store ----------------

class StoredBigGroupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    slapd_ = new Slapd(Slapd::Options{.users = 50, .groups = 5});
    if (!slapd_->started()) return;
    std::string ldif = "dn: cn=ldapbig,ou=groups," + slapd_->base() +
                       "\nchangetype: add\nobjectClass: posixGroup\ncn: ldapbig\ngidNumber: 299998\n";
    for (int i = 1; i <= kMembers; ++i) {
      char line[32];
      std::snprintf(line, sizeof line, "memberUid: bulk%05d\n", i);
      ldif += line;
    }
    added_ = slapd_->ldapmodify(ldif + "\n");
  }
  static void TearDownTestSuite() {
    delete slapd_;
    slapd_ = nullptr;
  }

  StoredBigGroupTest() : d_(1, 1) {}

  void SetUp() override {
    ASSERT_TRUE(slapd_ != nullptr && slapd_->started()) << (slapd_ ? slapd_->error() : "not root");
    ASSERT_TRUE(added_) << read_file(slapd_->dir() + "/change.out");
    raise_fd_limit();
  }

  // fastidd with the store (`store_keys`: lines of [store]) in front of
  // slapd, its group answered until it is shared.
  void serve(const std::string& store_keys) {
    const Slapd& s = *slapd_;
    std::string cfg = stored_daemon_config(
        d_, store_keys,
        "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\n" + ldap_mode_keys() + "uri = [\"" + s.uri() +
            "\"]\nbase = \"" + s.base() + "\"\nbind_dn = \"" + s.bind_dn() + "\"\nbind_password_file = \"" +
            s.bind_password_file() + "\"\nschema = \"rfc2307\"\n" +
            Slapd::timeout_keys(std::chrono::seconds(5), std::chrono::seconds(30)));
    cfg.insert(cfg.find("socket_dir"), "stall_timeout = \"" + std::to_string(kStallSeconds) + "s\"\n");
    d_.write_config(cfg);
    ASSERT_TRUE(d_.start()) << d_.log();
    path_ = d_.socket_dir() + "/nss";
    // Warm: the first answer comes from slapd (encoded for that request), the
    // store writes it; from then on it is read from the store, encoded once
    // for its record version and shared. Asked until a reply is a shared one
    // (or, with a fastidd that shares none, three were read from the store).
    const auto deadline = Clock::now() + 60s;
    long hits = 0;
    while (Clock::now() < deadline && (hits = d_.status_figure("shared_replies.hits")) < 1 &&
           d_.status_figure("store.corp.hits") < 3) {
      std::uint32_t status = 0;
      auto g = ask_group(path_, "ldapbig", &status);
      ASSERT_TRUE(g) << "status " << status << "\n" << d_.log();
      ASSERT_GE(g->members.size(), static_cast<std::size_t>(kMembers));
      ++warm_requests_;
    }
    {
      int fd = connect_unix(path_);
      auto reply = exchange(fd, getgrnam(8, "ldapbig"), 20000);
      ::close(fd);
      ASSERT_TRUE(reply && reply->header.status == 0);
      big_reply_bytes_ = proto::kHeaderSize + reply->payload.size();
    }
    ASSERT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 5s)) << d_.status().out;
  }

  // `change` ("add" or "delete") of the member `member` of ldapbig in slapd.
  static bool change_member(const char* change, const std::string& member) {
    return slapd_->ldapmodify("dn: cn=ldapbig,ou=groups," + slapd_->base() + "\nchangetype: modify\n" + change +
                              ": memberUid\nmemberUid: " + member + "\n\n");
  }
  static bool has_member(const model::Group& g, const std::string& member) {
    return std::find(g.members.begin(), g.members.end(), member) != g.members.end();
  }

  static Slapd* slapd_;
  static bool added_;
  Daemon d_;
  std::string path_;
  std::size_t big_reply_bytes_ = 0;
  int warm_requests_ = 0;
};
Slapd* StoredBigGroupTest::slapd_ = nullptr;
bool StoredBigGroupTest::added_ = false;

// The hostile_clients_system_test case of the same name, with the group from
// slapd through the store: 205 connections ask for it in one burst, 200
// never read, 5 read a byte every 200 ms. Before the store's records had a
// version, each request decoded the 650 KB record out of LMDB and encoded it
// on the loop, and each reader held its own copy.
TEST_F(StoredBigGroupTest, SlowReadersOfTheStoredBigGroupShareOnePayload) {
  ASSERT_NO_FATAL_FAILURE(serve(""));
#ifdef FASTID_ASAN_RUNTIME
  constexpr bool kJudge = false;  // ASan's quarantine and instrumentation: printed, not judged
  constexpr int kSilent = 25, kDrip = 5;
#else
  constexpr bool kJudge = true;
  constexpr int kSilent = 200, kDrip = 5;
#endif
  const long turn_cpu0 = d_.status_figure("loop.longest_turn_cpu_us");
  const long hits0 = d_.status_figure("shared_replies.hits");
  const double cpu0 = fastidd_cpu_ms(d_.pid());
  const SlowReadersFigures f = run_slow_readers(
      d_, {.socket = path_, .request = proto::encode_request(getgrnam(21, "ldapbig")), .silent = kSilent,
           .drip = kDrip, .stall_seconds = kStallSeconds, .probe_users = 50});
  ASSERT_TRUE(f.started) << f.setup_error;
  EXPECT_EQ(f.failed, 0);
  EXPECT_GT(f.served, 0);
  EXPECT_TRUE(f.all_closed) << "still open: " << f.open_at_end;
  const long turn_cpu = d_.status_figure("loop.longest_turn_cpu_us");
  const long hits = d_.status_figure("shared_replies.hits") - hits0;
  const double cpu_ms = fastidd_cpu_ms(d_.pid()) - cpu0;
  const std::uint64_t bound_kib = (4 * std::uint64_t{proto::kMaxPayload} + kSilent * 40 * 1024) / 1024 + f.rss0_kib;
  std::printf("[figure] stored LDAP group (%zu-byte reply, shared after %d warm-up requests): %d silent + %d "
              "one-byte readers closed %.1f s after they asked; fastidd RSS %llu KiB before, %llu KiB peak (+%llu), "
              "bound %llu KiB; %d lookups served alongside (worst %.1f ms), %d failed; longest loop turn %ld us of "
              "CPU (%ld before the readers); replies from the shared payload %ld; fastidd CPU %.0f ms over the case\n",
              big_reply_bytes_, warm_requests_, kSilent, kDrip, f.closed_s, static_cast<unsigned long long>(f.rss0_kib),
              static_cast<unsigned long long>(f.peak_kib), static_cast<unsigned long long>(f.peak_kib - f.rss0_kib),
              static_cast<unsigned long long>(bound_kib), f.served, f.worst_ms, f.failed, turn_cpu, turn_cpu0, hits,
              cpu_ms);
  EXPECT_GE(hits, kSilent + kDrip) << "replies to the stored group were not shared";
  if (kJudge) {
    EXPECT_LE(turn_cpu, std::max(turn_cpu0, kMaxTurnUs))
        << "a turn of the front worker's loop ran longer than 10 ms while it answered the readers";
    EXPECT_LT(f.peak_kib, bound_kib) << "fastidd held more than the shared payloads and a little per slow reader";
  }
}

// Nothing is served stale: the group changed in slapd is still answered from
// the store while its record is fresh (that is the store's ttl), and the
// moment it is invalidated the next reply carries the new member — not the
// shared payload of the old record — and so does every reply after it, the
// new record's own shared payload included.
TEST_F(StoredBigGroupTest, AGroupChangedInTheDirectoryIsAnsweredNewAtOnceAfterAnInvalidation) {
  ASSERT_NO_FATAL_FAILURE(serve(""));
  ASSERT_TRUE(change_member("add", "newcomer")) << read_file(slapd_->dir() + "/change.out");
  auto has_newcomer = [](const model::Group& g) { return has_member(g, "newcomer"); };
  std::uint32_t status = 0;
  auto before = ask_group(path_, "ldapbig", &status);
  ASSERT_TRUE(before);
  EXPECT_FALSE(has_newcomer(*before)) << "the store's fresh record answers until it is invalidated";
  const std::string cli = "FASTID_SOCKET_DIR=" + d_.socket_dir() + " " + bin_dir() + "/fastid ";
  for (const char* how : {"cache invalidate group ldapbig", "cache invalidate all"}) {
    auto inv = run(cli + how + " 2>&1");
    ASSERT_EQ(inv.exit_code, 0) << how << ": " << inv.out;
    const long hits0 = d_.status_figure("shared_replies.hits");
    // The next reply, and every one after it, has the new member: the first
    // from slapd, the next ones from the store's new record, then shared.
    for (int i = 0; i < 6; ++i) {
      auto g = ask_group(path_, "ldapbig", &status);
      ASSERT_TRUE(g) << how << ", request " << i << ": status " << status;
      EXPECT_TRUE(has_newcomer(*g)) << how << ", request " << i << ": the old members were answered";
      EXPECT_EQ(g->members.size(), static_cast<std::size_t>(kMembers + 1));
      if (i == 5) {
        // The new version is shared too (the writer commits in microseconds;
        // polled, not assumed).
        EXPECT_TRUE(wait_until(
            [&] {
              auto again = ask_group(path_, "ldapbig", &status);
              return again && has_newcomer(*again) && d_.status_figure("shared_replies.hits") > hits0;
            },
            10s))
            << how << ": the new record's replies are never shared";
      }
    }
    std::printf("[figure] after `fastid %s`: the next reply and every one after it had the new member; "
                "shared again from the new record (%ld shared replies)\n",
                how, d_.status_figure("shared_replies.hits") - hits0);
  }
  ASSERT_TRUE(change_member("delete", "newcomer"));
}

// A record rewritten while it is still fresh, with no invalidation — a
// refresh ahead of its expiry writing the directory's new answer — is a new
// version by its stamp alone: the fast cache's invalidation count (the
// other half of the version) does not move, the record never stops being
// fresh, and the payload shared for the old record must still never be
// answered once the new one is stored. (A version that ignored the stamp —
// a constant for any stamped record — answered the old members here.)
TEST_F(StoredBigGroupTest, ARecordRefreshedWhileFreshIsANewVersion) {
  ASSERT_NO_FATAL_FAILURE(serve("ttl = \"6s\"\nrefresh_ahead = \"5s\"\n"));
  ASSERT_TRUE(change_member("add", "latecomer")) << read_file(slapd_->dir() + "/change.out");
  auto has_latecomer = [](const model::Group& g) { return has_member(g, "latecomer"); };
  const long refreshed0 = d_.status_figure("store.corp.refreshed");
  const long hits0 = d_.status_figure("shared_replies.hits");
  std::uint32_t status = 0;
  // A request with less than refresh_ahead left queues the refresh (and is
  // answered from the fresh record); then nobody asks until it is written.
  const auto t0 = Clock::now();
  bool refreshed = false;
  while (!refreshed && seconds_since(t0) < 20) {
    ASSERT_TRUE(ask_group(path_, "ldapbig", &status)) << "status " << status;
    refreshed = wait_until([&] { return d_.status_figure("store.corp.refreshed") > refreshed0; }, 1500ms);
  }
  ASSERT_TRUE(refreshed) << "no refresh ahead happened: " << d_.status().out;
  ASSERT_TRUE(wait_until([&] { return d_.status_value("store.writer.queued") == "0"; }, 5s));
  int new_replies = 0;
  for (int i = 0; i < 6; ++i) {
    auto g = ask_group(path_, "ldapbig", &status);
    ASSERT_TRUE(g) << "status " << status;
    EXPECT_TRUE(has_latecomer(*g)) << "request " << i << " after the refresh was answered the old members";
    new_replies += has_latecomer(*g) ? 1 : 0;
  }
  const long hits = d_.status_figure("shared_replies.hits") - hits0;
  std::printf("[figure] refresh ahead (ttl 6 s, refresh_ahead 5 s) wrote the changed group %.1f s after the change; "
              "%d of 6 replies after it new (%ld shared replies in the case)\n",
              seconds_since(t0), new_replies, hits);
  EXPECT_GT(hits, 0) << "the refreshed record's replies were never shared";
  ASSERT_TRUE(change_member("delete", "latecomer"));
}

// ---- The budget of large replies in flight ----------------------------------

constexpr int kGroups = 64;          // distinct large groups, one per slow reader
constexpr int kGroupMembers = 9000;  // 32-character names: ~325 KB per reply
constexpr int kUids = 8;             // slow readers' uids, kGroups / kUids connections each
constexpr std::uint64_t kBudget = 4u << 20;

std::string member_name(int g, int m) {
  char name[40];
  std::snprintf(name, sizeof name, "m%03d-%027d", g, m);
  return name;
}

class LargeReplyBudgetTest : public ::testing::Test {
 protected:
  LargeReplyBudgetTest() : d_(100, 5) {
    ::chmod(d_.dir().c_str(), 0755);  // mkdtemp's 0700 would keep the readers' uids out
    std::ofstream group(d_.dir() + "/data/group", std::ios::app);
    for (int g = 0; g < kGroups + 2; ++g) {
      group << "large" << g << ":x:" << 290000 + g << ":";
      for (int m = 0; m < kGroupMembers; ++m) group << (m ? "," : "") << member_name(g, m);
      group << "\n";
    }
    std::string cfg = d_.default_config_text();
    cfg.insert(cfg.find("log_level"), "stall_timeout = \"3s\"\nmax_large_reply_bytes = \"4MiB\"\n");
    d_.write_config(cfg);
  }

  void SetUp() override {
    raise_fd_limit();
    ASSERT_TRUE(d_.start()) << d_.log();
    path_ = d_.socket_dir() + "/nss";
    ASSERT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 5s)) << d_.status().out;
  }

  Daemon d_;
  std::string path_;
};

// kUids uids (60001…) each open kGroups / kUids connections and ask each for
// a large group of its own, never reading: distinct payloads, ~21 MB in all.
// The worker writes at most the budget's non-root three quarters of them at
// once and answers the rest "busy"; root still gets a large group (its
// reserve); another uid's small lookups are served; RSS stays within the
// documented bound: the baseline + the budget + the shared table's 8 MiB +
// 40 KiB per reader. Before the budget every reader held its reply: fastidd
// grew by ~21 MB for as long as stall_timeout.
TEST_F(LargeReplyBudgetTest, ManyUidsSlowReadersOfDistinctLargeRepliesStayWithinTheBudget) {
  const std::uint64_t rss0 = fastidd_rss_kib(d_.pid());
  const long refused0 = d_.status_figure("replies.large_refused");
  const long frames0 = d_.status_figure("frames");
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  // The readers die with the test, whatever ends it.
  struct Kids {
    std::vector<pid_t> pids;
    ~Kids() {
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
      for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    }
  } kids;
  const int per_uid = kGroups / kUids;
  for (int u = 0; u < kUids; ++u) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const uid_t uid = static_cast<uid_t>(60001 + u);
      if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(2);
      std::vector<int> fds;
      for (int j = 0; j < per_uid; ++j) {
        int fd = connect_unix(path_);
        if (fd < 0) ::_exit(3);
        if (!send_all(fd, proto::encode_request(getgrnam(1, "large" + std::to_string(u * per_uid + j))))) ::_exit(4);
        fds.push_back(fd);
      }
      char one = 1;
      if (::write(ready[1], &one, 1) != 1) ::_exit(5);
      ::pause();  // never reads; killed by the test
      ::_exit(0);
    }
    kids.pids.push_back(pid);
  }
  ::close(ready[1]);
  for (int u = 0; u < kUids; ++u) {
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1) << "a reader could not ask";
  }
  ::close(ready[0]);
  const auto t0 = Clock::now();
  // Every request read (the files provider answers it in the same turn):
  // written and held by its reader, or refused. (The status request itself
  // is one frame more.)
  std::uint64_t peak = rss0;
  long in_flight_peak = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        peak = std::max(peak, fastidd_rss_kib(d_.pid()));
        in_flight_peak = std::max(in_flight_peak, d_.status_figure("replies.large_in_flight_bytes"));
        return d_.status_figure("frames") - frames0 > kGroups;
      },
      10s))
      << d_.status().out;
  const long refused = d_.status_figure("replies.large_refused") - refused0;
  // Another uid asking for a large group now is answered "busy", at once.
  std::uint32_t other_status = 0;
  {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(60100) != 0 || ::setuid(60100) != 0) ::_exit(2);
      std::uint32_t st = 0;
      (void)ask_group(path_, "large" + std::to_string(kGroups), &st);
      ::_exit(static_cast<int>(st));
    }
    int ws = 0;
    ::waitpid(pid, &ws, 0);
    other_status = WIFEXITED(ws) ? static_cast<std::uint32_t>(WEXITSTATUS(ws)) : 255;
  }
  // Root's reserve: a large group of its own, whole.
  std::uint32_t root_status = 0;
  auto root_group = ask_group(path_, "large" + std::to_string(kGroups + 1), &root_status);
  // Small lookups of another client are served meanwhile.
  int probe = connect_unix(path_);
  int served = 0;
  for (int i = 0; i < 50; ++i) served += lookup(probe, static_cast<std::uint32_t>(i + 1), "user00007") ? 1 : 0;
  ::close(probe);
  for (int i = 0; i < 20; ++i) {
    peak = std::max(peak, fastidd_rss_kib(d_.pid()));
    in_flight_peak = std::max(in_flight_peak, d_.status_figure("replies.large_in_flight_bytes"));
    std::this_thread::sleep_for(20ms);
  }
  for (pid_t pid : kids.pids) ::kill(pid, SIGKILL);
  for (pid_t pid : kids.pids) ::waitpid(pid, nullptr, 0);
  kids.pids.clear();
  EXPECT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 10s));
  const long budget_peak = d_.status_figure("replies.large_peak_bytes");
  const std::uint64_t bound_kib = rss0 + (kBudget + (8u << 20) + std::uint64_t{kGroups} * 40 * 1024) / 1024;
  std::printf("[figure] %d uids x %d slow readers of distinct %d-member groups (budget %llu bytes): %ld refused "
              "\"busy\", peak in flight %ld bytes (status peak %ld); another uid: status %u; root: status %u; "
              "%d of 50 small lookups served; fastidd RSS %llu KiB before, %llu KiB peak (+%llu), bound %llu KiB; "
              "%.1f s\n",
              kUids, per_uid, kGroupMembers, static_cast<unsigned long long>(kBudget), refused, in_flight_peak,
              budget_peak, other_status, root_status, served, static_cast<unsigned long long>(rss0),
              static_cast<unsigned long long>(peak), static_cast<unsigned long long>(peak - rss0),
              static_cast<unsigned long long>(bound_kib), seconds_since(t0));
  EXPECT_GT(refused, 0) << "the readers' replies were never refused";
  EXPECT_GT(budget_peak, 0);
  EXPECT_LE(static_cast<std::uint64_t>(budget_peak), kBudget);
  EXPECT_LE(static_cast<std::uint64_t>(in_flight_peak), kBudget / 4 * 3 + (1u << 20)) << "non-root past 3/4";
  EXPECT_EQ(other_status, static_cast<std::uint32_t>(proto::WireStatus::kBusy));
  EXPECT_EQ(root_status, 0u) << "root's reserve was used up by other uids";
  ASSERT_TRUE(root_group);
  EXPECT_EQ(root_group->members.size(), static_cast<std::size_t>(kGroupMembers));
  EXPECT_EQ(served, 50);
#ifndef FASTID_ASAN_RUNTIME
  EXPECT_LT(peak, bound_kib) << "slow readers took fastidd past the budget's bound";
#endif
}

}  // namespace
}  // namespace fastid::testing
