// Fault matrix: the wall clock jumps a day forward and a day backward under a
// running fastidd (docs/reliability.md "Fault matrix: clock jumps"). fastidd,
// its workers and the clients (getent through glibc and the fast cache,
// pamtester through libpam) run with Debian's libfaketime preloaded, reading
// their offset from one file the test rewrites (FAKETIME_NO_CACHE: every
// clock read looks at it), so the jump happens while they run. Only the wall
// clock moves (FAKETIME_DONT_FAKE_MONOTONIC), as when an administrator or NTP
// steps it: CLOCK_MONOTONIC goes on as before.
//
// What must hold: a decision about a duration (lockout, timers) does not move
// with the wall clock; a decision about a time stored in a file that outlives
// the process (store records, fast cache records, offline credentials) treats
// a time too far in the past as expired and one in the future as of unknown
// age — never fresh for as long as the clock was set back.
//
// For the ASan build: the ASan fastidd takes libfaketime after its own
// runtime with verify_asan_link_order=0, the uninstrumented clients get both
// preloaded, the ASan runtime first, and every ASan process runs with
// allocator_release_to_os_interval_ms=-1 (without it they can hang at start:
// FakeClock::client_env says why; docs/reliability.md says what was run).
// Needs root (unshare -m for pamtester).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "support/pam_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
// fastidd reads the clock from several threads at once (the loop dates a fast
// cache record while the store's writer thread dates the same answer's
// record), and with FAKETIME_NO_CACHE the plain library parses the offset in
// a buffer shared by every thread: a read racing another can come back on the
// real clock. The synchronized build serialises those reads. (CI saw it once:
// a record published at -1 day dated a day ahead, a miss for every client.)
// The clients (getent, pamtester) read the clock from one thread.
constexpr const char* kFaketimeThreaded = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
constexpr std::int64_t kHourNs = std::int64_t{3600} * 1000000000;
constexpr std::int64_t kDayNs = 24 * kHourNs;

// The wall clock of every process started with its environment: an offset
// from the real clock in FAKETIME_TIMESTAMP_FILE's syntax ("+0", "+1d", "-1d").
class FakeClock {
 public:
  explicit FakeClock(const std::string& dir) : dir_(dir), file_(dir + "/faketime.rc") { set("+0", 0); }

  // Moves every faked clock at once (the next clock read sees it).
  void set(const std::string& offset, std::int64_t offset_ns) {
    const std::string tmp = file_ + ".tmp";
    write_file(tmp, offset + "\n");
    std::rename(tmp.c_str(), file_.c_str());
    offset_ns_ = offset_ns;
  }
  std::int64_t offset_ns() const { return offset_ns_; }

  // For fastidd (Daemon::daemon_environment).
  void apply_to(Daemon& d) const {
    d.daemon_environment["LD_PRELOAD"] = kFaketimeThreaded;
    for (const auto& [k, v] : common()) d.daemon_environment[k] = v;
  }
  // A prefix for a client command, after Daemon::env() (the later LD_PRELOAD wins).
  std::string client_env() const {
#ifdef FASTID_ASAN_RUNTIME
    // ASan's allocator reads the monotonic clock while it holds a size-class
    // lock (to time its release of memory to the system); the first clock read
    // enters libfaketime before it has set itself up, libfaketime's dlsym
    // allocates, and the allocator waits on its own lock for ever: getent hung
    // at start. No release timing, no clock read under the lock.
    std::string e = std::string("LD_PRELOAD=\"") + FASTID_ASAN_RUNTIME + " " + kFaketime + "\" " +
                    "ASAN_OPTIONS=detect_leaks=0:allocator_release_to_os_interval_ms=-1:log_path=" + dir_ +
                    "/sanitizer-client ";
#else
    std::string e = std::string("LD_PRELOAD=") + kFaketime + " ";
#endif
    for (const auto& [k, v] : common()) e += k + "=" + v + " ";
    return e;
  }

 private:
  std::map<std::string, std::string> common() const {
    return {{"FAKETIME_TIMESTAMP_FILE", file_}, {"FAKETIME_NO_CACHE", "1"}, {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
  }
  std::string dir_;
  std::string file_;
  std::int64_t offset_ns_ = 0;
};

std::int64_t real_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The ASan fastidd refuses to start when libfaketime is preloaded ahead of
// nothing but its own static runtime unless told the order is fine; and its
// allocator must not time its releases (the clock read under its lock, see
// FakeClock::client_env).
void allow_preload_under_asan() {
  const char* old = std::getenv("ASAN_OPTIONS");
  std::string v = old != nullptr && *old != '\0' ? std::string(old) : std::string();
  for (const char* option : {"verify_asan_link_order=0", "allocator_release_to_os_interval_ms=-1"}) {
    const std::string name = std::string(option).substr(0, std::string(option).find('='));
    if (v.find(name) == std::string::npos) v += (v.empty() ? "" : ":") + std::string(option);
  }
  ::setenv("ASAN_OPTIONS", v.c_str(), 1);
}

// One value in the text of one `fastid status`, "" when absent.
std::string value_in(const std::string& status, const std::string& key) {
  const std::string all = "\n" + status;
  const auto at = all.find("\n" + key + " ");
  if (at == std::string::npos) return "";
  const auto v = all.find_first_not_of(' ', at + key.size() + 1);
  return all.substr(v, all.find('\n', v) - v);
}

// One value of `fastid status` as a number (-1 when absent).
long figure(const Daemon& d, const std::string& key) {
  const std::string v = d.status_value(key);
  return v.empty() ? -1 : std::stol(v);
}

// The heartbeat the daemon last wrote into the passwd fast cache map
// (CLOCK_REALTIME ns at offset 136, docs/fastcache.md), 0 if unreadable.
std::uint64_t map_heartbeat(const Daemon& d) {
  std::ifstream in(d.cache_dir() + "/passwd", std::ios::binary);
  unsigned char b[8] = {};
  if (!in.seekg(136) || !in.read(reinterpret_cast<char*>(b), 8)) return 0;
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// Waits until the daemon has written a heartbeat on the faked clock (within
// 10 s of it): until then every client treats the map as absent whatever its
// records say, and a test of the records' own rule would prove nothing.
bool heartbeat_follows(const Daemon& d, const FakeClock& clock) {
  return wait_until(
      [&] {
        const std::int64_t fake_now = real_now_ns() + clock.offset_ns();
        const std::int64_t hb = static_cast<std::int64_t>(map_heartbeat(d));
        return hb > fake_now - 10'000'000'000LL && hb < fake_now + 10'000'000'000LL;
      },
      20s);
}

// ---- The store and the fast cache in front of a private slapd ----------------------------

class ClockJumpLdapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    allow_preload_under_asan();
    // No TLS: the fixture's certificate is issued as the suite starts, so
    // with the daemon's clock set back an hour OpenSSL rightly finds it not
    // yet valid and every search would fail (a real consequence of a step
    // back: docs/reliability.md). The passwords go to 127.0.0.1 only.
    slapd_ = new Slapd(Slapd::Options{.users = 50, .groups = 5});
  }
  static void TearDownTestSuite() {
    delete slapd_;
    slapd_ = nullptr;
  }

  ClockJumpLdapTest() : d_(1, 1), clock_(d_.dir()) {}

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (unshare -m for pamtester); CI runs the suite as root";
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    ::chmod(d_.dir().c_str(), 0755);
    d_.write_config("[daemon]\nsocket_dir = \"" + d_.socket_dir() + "\"\nstate_dir = \"" + d_.dir() +
                    "/state\"\nlog_level = \"info\"\n\n[store]\nttl = \"1h30m\"\nrefresh_ahead = \"5m\"\n"
                    "offline_max_age = \"12h\"\nprobe_interval = \"300ms\"\n\n[pam]\noffline = true\n"
                    "offline_max_age = \"12h\"\n" +
                    slapd_->provider_toml("allow_cleartext_passwords = true\n"));
    set_up_pam(d_, "fastid-clock");
    clock_.apply_to(d_);
    ASSERT_TRUE(d_.start()) << d_.log();
  }

  // getent through glibc, libnss_fastid and the fast cache, on the faked clock.
  CommandResult getent(const std::string& user) const {
    return run(d_.env() + clock_.client_env() + "getent -s fastid passwd " + user + " 2>&1");
  }
  // The same without a fast cache (a folder with no maps): the lookup is the daemon's.
  CommandResult getent_socket_only(const std::string& user) const {
    return run(d_.env() + clock_.client_env() + "FASTID_CACHE_DIR=" + d_.dir() + "/no-maps getent -s fastid passwd " +
               user + " 2>&1");
  }
  // Requests the daemon answered for one getent (its status request subtracted).
  long requests_for(const std::string& user, CommandResult* r) const {
    const long before = d_.requests_served();
    *r = getent(user);
    return d_.requests_served() - before - 1;
  }
  std::string cache_show(const std::string& user) const {
    return run("FASTID_SOCKET_DIR=" + d_.socket_dir() + " " + bin_dir() + "/fastid cache show user " + user + " 2>&1")
        .out;
  }
  std::string stored_fresh(const std::string& user) const {
    const std::string out = cache_show(user);
    const std::string v = value_in(out, "store.corp.passwd.byname.fresh");
    return v.empty() ? "? " + out : v;
  }
  // What a failed "the fast cache serves it again" needs to be explained
  // (CI saw it once in the backward case, never reproduced since): whether
  // the record is published, the map's figures, and the daemon's log.
  std::string why_not_from_the_map(const std::string& user) const {
    return "cache show:\n" + cache_show(user) + "status:\n" + d_.status().out + "log:\n" + d_.log();
  }
  long misses() const { return figure(d_, "store.corp.misses"); }
  long hits() const { return figure(d_, "store.corp.hits"); }

  CommandResult pamtester(const std::string& user, const std::string& password) const {
    return in_pam_namespace(d_, clock_.client_env() + "pamtester fastid-clock " + user + " authenticate",
                            password + "\n");
  }

  static Slapd* slapd_;
  Daemon d_;
  FakeClock clock_;
};
Slapd* ClockJumpLdapTest::slapd_ = nullptr;

// A day forward: the store's record (ttl 1h30m) and the fast cache's (5m) are
// expired; the next lookup asks slapd again and its answer is fresh on the
// new clock. Before that, 88 minutes forward puts the stored record inside
// refresh_ahead: answered from the store and refreshed behind the answer.
TEST_F(ClockJumpLdapTest, ForwardADayExpiresStoredAndCachedEntriesWhichAreFetchedAgain) {
  CommandResult r;
  ASSERT_EQ(getent("user00001").exit_code, 0) << d_.log();
  const long fetched = misses();
  EXPECT_EQ(requests_for("user00001", &r), 0) << "the fast cache answers the second lookup";
  EXPECT_EQ(r.exit_code, 0) << r.out;

  clock_.set("+88m", 88LL * 60 * 1000000000LL);
  ASSERT_TRUE(heartbeat_follows(d_, clock_)) << "no heartbeat on the new clock";
  const long refreshed = figure(d_, "store.corp.refreshed");
  const long hits_before = hits();
  EXPECT_EQ(requests_for("user00001", &r), 1) << "the fast cache record (ttl 5m) has expired";
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(hits(), hits_before + 1) << "the stored record (ttl 1h30m) still answers";
  EXPECT_TRUE(wait_until([&] { return figure(d_, "store.corp.refreshed") == refreshed + 1; }, 10s))
      << "2 minutes left of 1h30m is inside refresh_ahead (5m): refreshed behind the answer";

  clock_.set("+1d", kDayNs);
  EXPECT_EQ(stored_fresh("user00001"), "no");
  ASSERT_TRUE(heartbeat_follows(d_, clock_)) << "no heartbeat on the new clock";
  const long misses_before = misses();
  const auto started = Clock::now();
  EXPECT_EQ(requests_for("user00001", &r), 1) << "the fast cache record has expired";
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(misses(), misses_before + 1) << "the stored record has expired: slapd is asked again";
  EXPECT_EQ(stored_fresh("user00001"), "yes") << "the new answer is fresh on the new clock";
  const long again = requests_for("user00001", &r);
  EXPECT_EQ(again, 0) << "and the fast cache serves it again\n" << (again != 0 ? why_not_from_the_map("user00001") : "");
  std::printf("[figure] clock +1d: fast cache and store entries expired, refetched from slapd "
              "(store misses %ld -> %ld, %.0f ms for the lookup incl. status), then served from the "
              "fast cache again; +88m: refreshed ahead (%ld -> %ld)\n",
              fetched, misses(), ms, refreshed, figure(d_, "store.corp.refreshed"));
}

// Backward: every stored and cached record now looks fetched in the future.
// None may count as fresh (else each would be answered, unchanged, for the
// length of the jump plus its ttl): the fast cache client misses, the store
// asks slapd, and the new answer is fresh for its ttl on the new clock. An
// hour back first (less than the map's old 24 h cap, more than its 5 min ttl),
// then a day.
TEST_F(ClockJumpLdapTest, BackwardLeavesNoEntryFreshForTheLengthOfTheJump) {
  CommandResult r;
  ASSERT_EQ(getent("user00002").exit_code, 0) << d_.log();
  ASSERT_EQ(stored_fresh("user00002"), "yes");
  std::string figures;
  for (const auto& [offset, ns] : {std::pair{"-1h", -kHourNs}, std::pair{"-1d", -kDayNs}}) {
    clock_.set(offset, ns);
    EXPECT_EQ(stored_fresh("user00002"), "no") << "clock " << offset << ": a record dated in the future is not fresh";
    ASSERT_TRUE(heartbeat_follows(d_, clock_)) << "no heartbeat on the new clock";
    const long misses_before = misses();
    const long hits_before = hits();
    EXPECT_EQ(requests_for("user00002", &r), 1)
        << "clock " << offset << ": the fast cache record expires more than its ttl from now: a miss in the client";
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(misses(), misses_before + 1) << "clock " << offset << ": the store asked slapd again";
    EXPECT_EQ(hits(), hits_before) << "clock " << offset << ": the record dated in the future answered";
    EXPECT_EQ(stored_fresh("user00002"), "yes") << "clock " << offset << ": the new answer is fresh on the new clock";
    const long again = requests_for("user00002", &r);
    EXPECT_EQ(again, 0) << "clock " << offset << ": and the fast cache serves it again\n"
                        << (again != 0 ? why_not_from_the_map("user00002") : "");
    figures += std::string(" ") + offset + ": store misses " + std::to_string(misses_before) + " -> " +
               std::to_string(misses()) + ", hits " + std::to_string(hits_before) + " -> " +
               std::to_string(hits()) + ";";
  }
  std::printf("[figure] clock set back, records dated in the future refetched from slapd, the fast cache "
              "client missed once then served the new record:%s\n",
              figures.c_str());
}

// Last (stops slapd). The directory is down and the daemon offline: stored
// records fetched within the store's offline_max_age (12h) and offline
// credentials within [pam] offline_max_age (12h) are used — on the clock the
// login and the fetch happened on. A day later they are too old; a day
// earlier they are dated in the future, of unknown age: neither is used.
TEST_F(ClockJumpLdapTest, ZzOfflineAnswersAndCredentialsTooOldOrFromTheFutureAreRefused) {
  const std::string pw = Slapd::password_of("user00005");
  ASSERT_TRUE(has(pamtester("user00005", pw), kSuccess)) << d_.log();
  ASSERT_EQ(getent_socket_only("user00006").exit_code, 0) << d_.log();
  ASSERT_TRUE(slapd_->kill());
  // A name never stored sends the daemon to slapd, which is gone: offline.
  (void)getent_socket_only("user00040");
  ASSERT_TRUE(wait_until([&] { return d_.status_value("store.corp.state") == "offline"; }, 20s)) << d_.log();

  struct Step {
    const char* offset;
    std::int64_t ns;
    bool usable;
  };
  const Step steps[] = {{"+0", 0, true}, {"+1d", kDayNs, false}, {"-1d", -kDayNs, false}, {"+0", 0, true}};
  std::string figures;
  for (const Step& s : steps) {
    clock_.set(s.offset, s.ns);
    auto login = pamtester("user00005", pw);
    auto lookup = getent_socket_only("user00006");
    if (s.usable) {
      EXPECT_TRUE(has(login, kSuccess)) << "clock " << s.offset << ": " << login.out << d_.log();
      EXPECT_EQ(lookup.exit_code, 0) << "clock " << s.offset << ": " << lookup.out;
    } else {
      EXPECT_TRUE(has(login, kUnavail)) << "clock " << s.offset << ": " << login.out;
      EXPECT_FALSE(has(login, kSuccess)) << "clock " << s.offset << ": " << login.out;
      EXPECT_NE(lookup.exit_code, 0) << "clock " << s.offset << ": the stored record answered: " << lookup.out;
    }
    figures += std::string(" ") + s.offset + ": login " + (has(login, kSuccess) ? "ok" : "refused") +
               ", lookup " + (lookup.exit_code == 0 ? "answered" : "refused") + ";";
  }
  std::printf("[figure] directory down, offline credential and stored record from clock +0 (max age 12h):%s\n",
              figures.c_str());
}

// ---- A long-lived fast cache client -------------------------------------------------------

// A process that looked a name up before fastidd had published its maps (sshd
// or crond started at boot) looks for them again at most once a second. The
// clock is then set back a day (NTP stepping a fast RTC back) and fastidd
// starts: the process must find the maps within that second, not a day later,
// and answer from them without asking the daemon each time.
TEST(ClockJumpFastCacheTest, AClientThatFoundNoMapFindsItSoonAfterTheClockWasSetBack) {
  allow_preload_under_asan();
  Daemon d(50, 5);
  FakeClock clock(d.dir());
  clock.apply_to(d);
  const std::string go = d.dir() + "/go", out = d.dir() + "/probe.out";
  constexpr int kLookups = 50;  // 100 ms apart
  std::thread probe([&] {
    run(d.env() + clock.client_env() + bin_dir() + "/clock_probe user00001 " + go + " " +
        std::to_string(kLookups) + " > " + out + " 2>&1");
  });
  const bool asked_once = wait_until([&] { return read_file(out).find("before: not found") != std::string::npos; });
  clock.set("-1d", -kDayNs);
  const bool started = d.start();
  const long before = d.requests_served();
  write_file(go, "");
  probe.join();
  ASSERT_TRUE(asked_once) << read_file(out);
  ASSERT_TRUE(started) << d.log();
  const long asked = d.requests_served() - before - 1;
  EXPECT_NE(read_file(out).find("found " + std::to_string(kLookups) + " of " + std::to_string(kLookups)),
            std::string::npos)
      << read_file(out);
  // Lookups in the first second after the first one may go to the socket
  // (the map is looked for once a second); after that the map answers. The
  // bound leaves room for a loaded machine (a late publish, late wake-ups):
  // a client that times its re-look on the wall clock asks for all 50.
  EXPECT_LE(asked, kLookups / 2) << "the client kept asking the daemon: it did not look for the map again";
  std::printf("[figure] clock -1d between a client's first lookup (no map yet) and fastidd's start: "
              "%ld of %d lookups over 5 s asked the daemon, the rest answered from the fast cache\n",
              asked, kLookups);
}

// ---- fastid status: each front worker's age ------------------------------------------------

// worker.N.age_ms says how long ago a front worker last wrote its figures (a
// hung worker's grows): a duration between two processes, so on the monotonic
// clock. Right after a jump, the sibling that did not answer the status wrote
// its figures before the jump (they are rewritten every 500 ms): on the wall
// clock its age would read a day too old or a day in the future.
TEST(ClockJumpStatusTest, WorkerAgesStayTheTimeSinceTheirLastUpdateAcrossJumps) {
  allow_preload_under_asan();
  Daemon d(50, 5);
  FakeClock clock(d.dir());
  clock.apply_to(d);
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  ASSERT_TRUE(wait_until([&] { return d.status_value("worker.1.age_ms") != ""; })) << d.status().out;
  std::string figures;
  for (const auto& [offset, ns] : {std::pair{"-1d", -kDayNs}, std::pair{"+1d", kDayNs}, std::pair{"+0", std::int64_t{0}}}) {
    clock.set(offset, ns);
    const std::string out = d.status().out;  // at once: a sibling's figures predate the jump
    for (const char* key : {"worker.0.age_ms", "worker.1.age_ms"}) {
      const std::string v = value_in(out, key);
      ASSERT_FALSE(v.empty()) << out;
      const long age = std::stol(v);
      EXPECT_GE(age, 0) << "clock " << offset << ": " << key << " " << age;
      // Rewritten every 500 ms; a minute leaves room for a stalled machine,
      // and a wall-clock age reads a day off.
      EXPECT_LT(age, 60000) << "clock " << offset << ": " << key << " " << age;
      figures += std::string(" ") + offset + " " + key + "=" + v;
    }
  }
  std::printf("[figure] worker ages read right after each jump (ms):%s\n", figures.c_str());
}

// ---- The lockout: a duration, on the monotonic clock ----------------------------------------

// Three wrong passwords lock the user for 2 s. The wall clock then jumps a
// day forward (the lockout must not vanish) or back (it must not last a day
// longer): either way the right password is refused at once and accepted
// again 2 s after the lock, as without a jump.
TEST(ClockJumpLockoutTest, ALockoutNeitherVanishesNorLastsLongerWhenTheWallClockJumps) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root (unshare -m for pamtester); CI runs the suite as root";
  allow_preload_under_asan();
  PamDaemon d("max_failures = 3\nfailure_window = \"1h\"\nlockout_time = \"2s\"\n");
  FakeClock clock(d.dir());
  clock.apply_to(d);
  ASSERT_TRUE(d.start()) << d.log();
  auto pamtester = [&](const std::string& user, const std::string& password) {
    return d.in_namespace(clock.client_env() + "pamtester fastid-test " + user + " authenticate", password + "\n");
  };
  struct Jump {
    const char* offset;
    std::int64_t ns;
    const char* user;
    const char* password;
  };
  for (const Jump& j : {Jump{"+1d", kDayNs, "user00007", "Lockout-pw.7"}, Jump{"-1d", -kDayNs, "user00008", "Caller-pw.8"}}) {
    clock.set("+0", 0);
    ASSERT_TRUE(has(pamtester(j.user, j.password), kSuccess)) << d.log();
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(has(pamtester(j.user, kWrong), kAuthErr));
    const auto locked = Clock::now();  // the lock starts after this, within the third guess
    EXPECT_TRUE(has(pamtester(j.user, kWrong), kAuthErr));
    clock.set(j.offset, j.ns);
    auto refused = pamtester(j.user, j.password);
    EXPECT_TRUE(has(refused, kMaxTries)) << "clock " << j.offset << ": the lockout vanished: " << refused.out;
    CommandResult last;
    const bool ended = wait_until(
        [&] {
          last = pamtester(j.user, j.password);
          return has(last, kSuccess);
        },
        20s);
    const double seconds = std::chrono::duration<double>(Clock::now() - locked).count();
    EXPECT_TRUE(ended) << "clock " << j.offset << ": still locked after " << seconds << " s: " << last.out;
    EXPECT_GE(seconds, 2.0) << "clock " << j.offset << ": the lockout ended early";
    EXPECT_LT(seconds, 12.0) << "clock " << j.offset << ": the lockout lasted longer than its 2 s";
    std::printf("[figure] clock %s during a 2 s lockout: the right password refused after the jump, accepted "
                "%.2f s after the lock\n",
                j.offset, seconds);
  }
}

}  // namespace
}  // namespace fastid::testing
