// The nscd front's administrative requests and its maps with several front
// workers, through real glibc and Debian's real `nscd` binary (its client
// side only: `nscd -g` and `nscd -K` connect to /var/run/nscd/socket, which
// the private mount namespace makes fastidd's; no nscd daemon is started):
// - GETSTAT (`nscd -g`) prints fastid's figures to root and is closed
//   unanswered for anyone else;
// - SHUTDOWN (`nscd -K`) is refused for everyone, root included: fastidd is a
//   system service and keeps serving (docs/nscd.md, "Statistics and shutdown");
// - with `-w 2`, glibc's hot lookups are answered from the map (strace sees
//   no network system call), and an invalidation reaching one worker retires
//   the other's maps too.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <map>
#include <regex>

#include "support/daemon_fixture.h"
#include "support/nscd_client.h"

namespace fastid::testing {
namespace {

constexpr std::int32_t kShutdown = 8, kGetstat = 9;
const char* const kNscd = "/usr/sbin/nscd";


// The number `nscd -g` printed before `label`, in the section of `database`.
long printed(const std::string& out, const std::string& database, const std::string& label) {
  const std::size_t section = out.find("\n" + database + " cache:");
  if (section == std::string::npos) return -1;
  std::istringstream in(out.substr(section + 1));
  for (std::string line; std::getline(in, line);) {
    if (line.find(label) == std::string::npos) continue;
    std::smatch m;
    if (std::regex_search(line, m, std::regex("^\\s*(\\d+)"))) return std::stol(m[1]);
    return -1;
  }
  return -1;
}

class NscdAdmin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon(300, 40);
    configure_nscd_front(*daemon_, "");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(wait_until([] { return fs::exists(socket_path()); })) << daemon_->log();
    // uid 65534 must reach the socket through the 0700 test folder.
    fs::permissions(daemon_->dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static std::string socket_path() { return daemon_->dir() + "/nscd/socket"; }
  static CommandResult in_namespace(const std::string& command) { return in_nscd_namespace(*daemon_, command); }
  // A lookup through glibc (the front's socket or map) still answers.
  static void expect_serving() {
    const auto& [name, line] = *std::next(daemon_->dataset.passwd_by_name.begin(), 5);
    auto r = in_namespace(bin_dir() + "/nscd_probe passwd " + name);
    EXPECT_EQ(r.out, line + "\n");
  }
  static inline Daemon* daemon_ = nullptr;
};

TEST_F(NscdAdmin, NscdGPrintsFastidsFiguresToRoot) {
  if (!fs::exists(kNscd)) GTEST_SKIP() << "no " << kNscd << " (scripts/install-deps installs nscd)";
  // Three users found and one that does not exist, on the socket (new processes:
  // the first lookup of each is a request), then glibc's own `nscd -g`.
  for (int i = 0; i < 3; ++i) {
    const auto& [name, line] = *std::next(daemon_->dataset.passwd_by_name.begin(), 20 + i);
    EXPECT_EQ(in_namespace(bin_dir() + "/nscd_probe passwd " + name).out, line + "\n");
  }
  auto r = in_namespace(bin_dir() + "/nscd_probe passwd nobody-at-all-here");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = in_namespace(std::string(kNscd) + " -g");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("nscd configuration:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("server runtime"), std::string::npos) << r.out;
  EXPECT_GE(printed(r.out, "passwd", "cache hits on positive entries"), 3) << r.out;
  EXPECT_GE(printed(r.out, "passwd", "cache hits on negative entries"), 1) << r.out;
  EXPECT_GE(printed(r.out, "passwd", "current number of cached values"), 3 * 2) << r.out;  // by name and by uid
  EXPECT_EQ(printed(r.out, "passwd", "suggested size"), 16381) << r.out;
  EXPECT_EQ(printed(r.out, "passwd", "seconds time to live for positive entries"), 300) << r.out;
  EXPECT_GT(printed(r.out, "passwd", "used data pool size"), 0) << r.out;
  const std::size_t passwd = r.out.find("\npasswd cache:");
  ASSERT_NE(passwd, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("yes  cache is shared", passwd), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ngroup cache:"), std::string::npos) << r.out;
  EXPECT_GE(daemon_->status_figure("nscd.statistics"), 1);
}

TEST_F(NscdAdmin, GetstatFromAnyoneButRootIsClosedUnanswered) {
  const std::string getstat = nscd_request(2, kGetstat, 0, "");
  const long before = daemon_->status_figure("nscd.statistics");
  EXPECT_EQ(nscd_exchange_as(65534, socket_path(), getstat, 768), "no answer");
  EXPECT_EQ(daemon_->status_figure("nscd.statistics"), before);
  // Root's, on the raw socket: the whole record, with glibc's version.
  const std::string got = nscd_exchange_as(0, socket_path(), getstat, 768);
  ASSERT_EQ(got.size(), 768u) << got;
  std::uint32_t version = 0;
  std::memcpy(&version, got.data(), 4);
  EXPECT_EQ(version, 0x01020001u);
  EXPECT_EQ(daemon_->status_figure("nscd.statistics"), before + 1);
  expect_serving();
}

TEST_F(NscdAdmin, NscdKIsRefusedAndTheDaemonKeepsServing) {
  if (!fs::exists(kNscd)) GTEST_SKIP() << "no " << kNscd << " (scripts/install-deps installs nscd)";
  const long refused = daemon_->status_figure("nscd.shutdowns_refused");
  // Root's `nscd -K`: glibc's client sends SHUTDOWN and exits without waiting.
  auto r = in_namespace(std::string(kNscd) + " -K");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  ASSERT_TRUE(wait_until([&] { return daemon_->status_figure("nscd.shutdowns_refused") >= refused + 1; }))
      << daemon_->log();
  // Anyone else's, on the raw socket, with and without a key.
  EXPECT_EQ(nscd_exchange_as(65534, socket_path(), nscd_request(2, kShutdown, 0, ""), 4), "no answer");
  EXPECT_EQ(nscd_exchange_as(65534, socket_path(), nscd_request(2, kShutdown, 1, std::string(1, '\0')), 4),
            "no answer");
  EXPECT_GE(daemon_->status_figure("nscd.shutdowns_refused"), refused + 3);
  EXPECT_EQ(::kill(daemon_->pid(), 0), 0) << "fastidd is gone";
  EXPECT_TRUE(fs::exists(socket_path()));
  expect_serving();
  EXPECT_NE(daemon_->log().find("nscd -K) refused"), std::string::npos) << daemon_->log();
}

// ---- two front workers ----

// A daemon with the front and two front workers, both past their start (each
// invalidates the maps once as it starts, which retires the other's first maps).
void start_two_workers(Daemon& d) {
  configure_nscd_front(d, "");
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  ASSERT_TRUE(wait_until([&] { return fs::exists(d.dir() + "/nscd/socket"); })) << d.log();
  ASSERT_TRUE(wait_until([&] {
    return !d.status_value("worker.0.pid").empty() && !d.status_value("worker.1.pid").empty();
  })) << d.log();
}

// nscd_probe under strace: `lookups` lookups of `what key`, the first `warm` of
// them before its "hot" line.
HotTrace trace_hot_lookups(const Daemon& d, const std::string& what, const std::string& key, int warm, int lookups,
                           std::string* out) {
  const std::string trace = d.dir() + "/strace.txt";
  fs::remove(trace);
  auto r = in_nscd_namespace(d, kNoLeakCheckUnderStrace + "NSCD_PROBE_WARM=" + std::to_string(warm) + " strace -f -qq -o " + trace +
                                    " -e trace=%network,write " + bin_dir() + "/nscd_probe " + what + " " + key +
                                    " " + std::to_string(lookups) + " 2>/dev/null");
  *out = r.out;
  return network_calls_around_hot(read_file(trace));
}

TEST(NscdTwoWorkers, HotLookupsAreAnsweredFromTheMapWithNoNetworkCall) {
  if (std::system("command -v strace >/dev/null") != 0) GTEST_SKIP() << "no strace (scripts/install-deps)";
  Daemon d(300, 40);
  ASSERT_NO_FATAL_FAILURE(start_two_workers(d));
  const auto& [name, line] = *std::next(d.dataset.passwd_by_name.begin(), 11);
  // Each worker keeps its own map: a process holds the one of the worker that
  // answered its GETFDPW, and a name it asks the socket for lands in the map
  // of whichever worker answered. 64 warm lookups: the chance that none of
  // them reached the map's own worker is 2^-64.
  std::string out;
  HotTrace t = trace_hot_lookups(d, "passwd", name, 64, 2064, &out);
  EXPECT_EQ(out, line + "\n");
  EXPECT_GT(t.before, 0) << "strace saw no request at all: the trace is not what it seems";
  EXPECT_EQ(t.after, 0) << "2,000 hot lookups made network calls: glibc did not answer them from the map";
  // Groups (by gid) too.
  const auto& [gid, gline] = *std::next(d.dataset.group_by_gid.begin(), 3);
  t = trace_hot_lookups(d, "gid", std::to_string(gid), 64, 2064, &out);
  EXPECT_EQ(out, gline + "\n");
  EXPECT_EQ(t.after, 0);
}

TEST(NscdTwoWorkers, AnInvalidationOnOneWorkerRetiresEveryWorkersMap) {
  Daemon d(300, 40);
  ASSERT_NO_FATAL_FAILURE(start_two_workers(d));
  const std::string sock = d.dir() + "/nscd/socket";
  // Descriptors of the passwd maps of both workers: ask until two different
  // memfds came back (each GETFDPW is answered by whichever worker accepts).
  auto map_of_a_worker = [&]() -> std::pair<int, ino_t> {
    int fd = connect_nscd(sock);
    const std::string req = nscd_request(2, 11, 7, std::string("passwd\0", 7));
    if (fd < 0 || ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return {-1, 0};
    char key[7 + 8];
    const int map = receive_map(fd, key, sizeof key).map_fd;
    ::close(fd);
    struct stat st{};
    if (map < 0 || ::fstat(map, &st) != 0) return {-1, 0};
    return {map, st.st_ino};
  };
  std::map<ino_t, int> maps;
  for (int i = 0; i < 200 && maps.size() < 2; ++i) {
    auto [fd, ino] = map_of_a_worker();
    ASSERT_GE(fd, 0);
    if (!maps.emplace(ino, fd).second) ::close(fd);
  }
  ASSERT_EQ(maps.size(), 2u) << "two workers, two passwd maps";
  auto retired = [](int fd) {
    // glibc's test: gc_cycle odd (offset 8 of database_pers_head).
    void* p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    std::uint32_t gc;
    std::memcpy(&gc, static_cast<const char*>(p) + 8, 4);
    ::munmap(p, 4096);
    return (gc & 1u) != 0;
  };
  for (auto& [ino, fd] : maps) EXPECT_FALSE(retired(fd));
  // `nscd -i passwd`'s request, from root: answered by one worker.
  EXPECT_EQ(nscd_exchange_as(0, sock, nscd_request(2, 10, 7, std::string("passwd\0", 7)), 4),
            std::string(4, '\0'));
  // Both maps retire: the other worker's within its next second.
  EXPECT_TRUE(wait_until([&] {
    for (auto& [ino, fd] : maps) {
      if (!retired(fd)) return false;
    }
    return true;
  })) << "a worker kept handing out its map after the invalidation";
  for (auto& [ino, fd] : maps) ::close(fd);
}

}  // namespace
}  // namespace fastid::testing
