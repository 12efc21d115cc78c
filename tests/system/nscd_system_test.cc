// The nscd front through real glibc: fastidd answers glibc's nscd protocol on
// a socket of its test folder, and programs run in a private mount namespace
// where that folder is bound on /run/nscd (so /var/run/nscd/socket is
// fastidd's; the host's /run is never touched) with an nsswitch.conf that
// lists `files` alone: no fastid module anywhere. The users and groups exist
// only in fastidd's provider, so every answer is the nscd front's. Also:
// glibc searching the shared map (no request reaches the daemon for a hot
// lookup), and hostile requests on the raw socket.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/nscd_client.h"

namespace fastid::testing {
namespace {

// The suite's daemon, started once (its dataset is only read).
Daemon* g_daemon = nullptr;

std::string socket_path() { return g_daemon->dir() + "/nscd/socket"; }

CommandResult in_namespace_of(const Daemon& d, const std::string& command) { return in_nscd_namespace(d, command); }
void configure_front(Daemon& d, const std::string& extra) { configure_nscd_front(d, extra); }

class NscdFront : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_daemon = daemon_ = new Daemon(300, 40);
    configure_front(*daemon_, "");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(wait_until([] { return fs::exists(socket_path()); })) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    g_daemon = daemon_ = nullptr;
  }

  static CommandResult in_namespace(const std::string& command) { return in_namespace_of(*daemon_, command); }

  static long status_figure(const std::string& key) { return daemon_->status_figure(key); }

  static const Dataset& data() { return daemon_->dataset; }
  static inline Daemon* daemon_ = nullptr;
};

TEST_F(NscdFront, GetentAndIdAreAnsweredWithNoModule) {
  const auto& [name, line] = *std::next(data().passwd_by_name.begin(), 17);
  auto r = in_namespace("getent passwd " + name);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, line + "\n");
  // By uid.
  const std::string uid = split(line, ':')[2];
  r = in_namespace("getent passwd " + uid);
  EXPECT_EQ(r.out, line + "\n");
  // A group by name and by gid.
  const auto& [gname, gline] = *std::next(data().group_by_name.begin(), 5);
  r = in_namespace("getent group " + gname);
  EXPECT_EQ(r.out, gline + "\n");
  r = in_namespace("getent group " + split(gline, ':')[2]);
  EXPECT_EQ(r.out, gline + "\n");
  // id: the user, the primary group and the supplementary groups.
  r = in_namespace("id -G " + name);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::set<unsigned> got;
  for (const auto& g : split(r.out.substr(0, r.out.find('\n')), ' ')) got.insert(static_cast<unsigned>(std::stoul(g)));
  std::set<unsigned> want = data().groups_of.count(name) ? data().groups_of.at(name) : std::set<unsigned>{};
  want.insert(data().primary_gid.at(name));
  EXPECT_EQ(got, want) << r.out;
  // Not in the dataset: no such user (glibc takes nscd's "not found" as final).
  r = in_namespace("getent passwd nosuchuser-nscd");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  // The host's own users are not fastid's here: nscd's answer is final.
  EXPECT_GT(status_figure("nscd.requests"), 0);
}

TEST_F(NscdFront, GetpwnamThroughGlibcEveryUserAndGroup) {
  // A sample of users and groups through getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r.
  int checked = 0;
  for (auto it = data().passwd_by_name.begin(); it != data().passwd_by_name.end(); std::advance(it, 1)) {
    if (++checked % 37 != 0) continue;
    auto r = in_namespace(bin_dir() + "/nscd_probe passwd " + it->first);
    EXPECT_EQ(r.out, it->second + "\n");
    r = in_namespace(bin_dir() + "/nscd_probe uid " + split(it->second, ':')[2]);
    EXPECT_EQ(r.out, it->second + "\n");
  }
  for (const auto& [gid, line] : data().group_by_gid) {
    if (gid % 7 != 0) continue;
    auto r = in_namespace(bin_dir() + "/nscd_probe gid " + std::to_string(gid));
    EXPECT_EQ(r.out, line + "\n");
  }
  auto r = in_namespace(bin_dir() + "/nscd_probe passwd nobody-at-all");
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST_F(NscdFront, StaticProgramGetsTheSameAnswers) {
  const auto& [name, line] = *std::next(data().passwd_by_name.begin(), 3);
  auto r = in_namespace(bin_dir() + "/nscd_probe_static passwd " + name);
  EXPECT_EQ(r.out, line + "\n");
  const auto& [gid, gline] = *std::next(data().group_by_gid.begin(), 2);
  r = in_namespace(bin_dir() + "/nscd_probe_static gid " + std::to_string(gid));
  EXPECT_EQ(r.out, gline + "\n");
}

TEST_F(NscdFront, HotLookupsAreServedFromTheMapWithoutTheSocket) {
  const auto& [name, line] = *std::next(data().passwd_by_name.begin(), 42);
  const long maps_before = status_figure("nscd.maps_sent");
  const long before = status_figure("nscd.requests");
  // One process: the first lookup asks for the map and the record; the next
  // 2,000 are found in the map glibc holds.
  auto r = in_namespace(bin_dir() + "/nscd_probe passwd " + name + " 2000");
  EXPECT_EQ(r.out, line + "\n");
  const long after = status_figure("nscd.requests");
  EXPECT_GT(status_figure("nscd.maps_sent"), maps_before);
  EXPECT_LE(after - before, 4) << "requests reached the daemon: glibc did not use the map";
  EXPECT_GE(after - before, 1);
  // Groups too (the group map also holds initgroups).
  const auto& [gid, gline] = *std::next(data().group_by_gid.begin(), 9);
  const long gbefore = status_figure("nscd.requests");
  r = in_namespace(bin_dir() + "/nscd_probe gid " + std::to_string(gid) + " 2000");
  EXPECT_EQ(r.out, gline + "\n");
  EXPECT_LE(status_figure("nscd.requests") - gbefore, 4);
}

// The check with strace: once glibc holds the map, a hot lookup makes
// no network system call at all (no socket, connect, sendmsg or recvmsg).
TEST_F(NscdFront, StraceSeesNoNetworkCallInHotLookups) {
  if (std::system("command -v strace >/dev/null") != 0) GTEST_SKIP() << "no strace (scripts/install-deps)";
  const auto& [name, line] = *std::next(data().passwd_by_name.begin(), 77);
  const std::string trace = daemon_->dir() + "/strace.txt";
  for (const std::string& what : {"passwd " + name, "uid " + split(line, ':')[2]}) {
    fs::remove(trace);
    auto r = in_namespace(kNoLeakCheckUnderStrace + "NSCD_PROBE_WARM=2 strace -f -qq -o " + trace + " -e trace=%network,write " + bin_dir() +
                          "/nscd_probe " + what + " 1002 2>/dev/null");
    EXPECT_EQ(r.out, line + "\n") << what;
    const HotTrace t = network_calls_around_hot(read_file(trace));
    EXPECT_GT(t.before, 0) << what << ": strace saw no request at all\n" << read_file(trace);
    EXPECT_EQ(t.after, 0) << what << ": hot lookups made network calls\n" << read_file(trace);
  }
}

// ---- hostile requests on the raw socket ----

int connect_front() { return connect_nscd(socket_path()); }

std::string request_bytes(std::int32_t version, std::int32_t type, std::int32_t key_len, const std::string& key) {
  return nscd_request(version, type, key_len, key);
}

class NscdHostile : public NscdFront {
 protected:
  // Sends `bytes` (then, with `half_close`, no more) and expects the
  // connection closed with no answer.
  static void expect_refused(const std::string& bytes, bool half_close) {
    int fd = connect_front();
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    if (half_close) ::shutdown(fd, SHUT_WR);
    EXPECT_TRUE(closed_without_answer(fd));
    ::close(fd);
  }
  // The daemon still answers a well-formed request, over the raw socket.
  static void expect_alive() {
    const std::string name = data().passwd_by_name.begin()->first;
    int fd = connect_front();
    ASSERT_GE(fd, 0);
    const std::string req = request_bytes(2, 0, static_cast<std::int32_t>(name.size() + 1), name + '\0');
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    std::int32_t head[9] = {};
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
    ASSERT_EQ(::recv(fd, head, sizeof head, MSG_WAITALL), static_cast<ssize_t>(sizeof head));
    EXPECT_EQ(head[0], 2);
    EXPECT_EQ(head[1], 1);
    ::close(fd);
  }
};

// The daemon's peak resident memory (VmHWM), in KiB.
long peak_rss_kib(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_F(NscdHostile, AHugeKeyLengthIsRefusedBeforeAnyByteIsHeld) {
  // One worker: the daemon process itself serves the socket.
  const long before = peak_rss_kib(daemon_->pid());
  ASSERT_GT(before, 0);
  for (std::int32_t len : {0x7fffffff, 0x40000000, 1 << 24}) {
    expect_refused(request_bytes(2, 0, len, "x"), false);
  }
  // Refused on the header alone: not a megabyte held for a key that never comes.
  EXPECT_LT(peak_rss_kib(daemon_->pid()) - before, 8 * 1024);
  expect_alive();
}

TEST_F(NscdHostile, MalformedRequestsAreClosedAndTheDaemonSurvives) {
  const long malformed = status_figure("nscd.malformed");
  expect_refused(request_bytes(2, 0, 0x7fffffff, "x"), false);        // key length far past the limit
  expect_refused(request_bytes(2, 0, 1025, std::string(1025, 'a')), false);
  expect_refused(request_bytes(2, 0, -5, ""), false);                 // negative key length
  expect_refused(request_bytes(3, 0, 6, std::string("alice\0", 6)), false);  // wrong version
  expect_refused(request_bytes(2, 99, 6, std::string("alice\0", 6)), false);  // unknown type
  expect_refused(request_bytes(2, -1, 6, std::string("alice\0", 6)), false);
  expect_refused(request_bytes(2, 0, 5, "alice"), false);             // key without its NUL
  expect_refused(request_bytes(2, 1, 4, std::string("1x2\0", 4)), false);    // a uid that is no number
  expect_refused(request_bytes(2, 0, 6, "ab"), true);                 // key cut short
  expect_refused(std::string("\x02\0\0\0\0\0", 6), true);             // header cut short
  EXPECT_GE(status_figure("nscd.malformed"), malformed + 8);
  // Types not served: closed too, so that glibc asks its modules for them.
  const long not_served = status_figure("nscd.not_served");
  expect_refused(request_bytes(2, 4, 12, std::string("example.org\0", 12)), false);  // GETHOSTBYNAME
  expect_refused(request_bytes(2, 13, 6, std::string("hosts\0", 6)), false);         // GETFDHST
  expect_refused(request_bytes(2, 19, 4, std::string("net\0", 4)), false);           // GETNETGRENT
  EXPECT_GE(status_figure("nscd.not_served"), not_served + 3);
  // A key length only GETSTAT and SHUTDOWN may have.
  expect_refused(request_bytes(2, 0, 0, ""), false);
  expect_alive();
}

// A peer asking the socket for one name over and over (glibc's client would
// find it in the map) does not make the map grow: the same answer is not
// appended again.
TEST_F(NscdHostile, RepeatingOneLookupDoesNotFillTheMap) {
  const std::string name = std::next(data().passwd_by_name.begin(), 7)->first;
  const std::string req = request_bytes(2, 0, static_cast<std::int32_t>(name.size() + 1), name + '\0');
  auto ask = [&req] {
    int fd = connect_front();
    if (fd < 0) return false;
    bool ok = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    std::int32_t head[9];
    pollfd p{fd, POLLIN, 0};
    ok = ok && ::poll(&p, 1, 10000) == 1 && ::recv(fd, head, sizeof head, MSG_WAITALL) == sizeof head;
    ::close(fd);
    return ok;
  };
  ASSERT_TRUE(ask());
  const long used = status_figure("nscd.passwd.used_bytes");
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(ask());
  EXPECT_EQ(status_figure("nscd.passwd.used_bytes"), used);
}

// `nscd -i`: root's INVALIDATE is fastid's invalidation (the map handed out
// before is retired); anyone else's is closed unanswered and changes nothing.
TEST_F(NscdHostile, InvalidateIsRootsOnly) {
  auto invalidate_as = [](uid_t uid) {
    // A child process, so that it can drop to `uid` for its connection.
    const std::string said =
        nscd_exchange_as(uid, socket_path(), request_bytes(2, 10, 7, std::string("passwd\0", 7)), sizeof(std::int32_t));
    if (said.size() != sizeof(std::int32_t)) return said;  // "no answer"
    std::int32_t result;
    std::memcpy(&result, said.data(), sizeof result);
    return "result " + std::to_string(result);
  };
  // The test folder is mkdtemp's 0700: let uid 65534 reach the socket.
  fs::permissions(daemon_->dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const long made = status_figure("nscd.maps_made");
  EXPECT_EQ(invalidate_as(65534), "no answer");
  EXPECT_EQ(status_figure("nscd.maps_made"), made);
  EXPECT_EQ(invalidate_as(0), "result 0");
  EXPECT_EQ(status_figure("nscd.maps_made"), made + 1);
  expect_alive();
}

TEST_F(NscdHostile, ASilentClientIsClosedAtTheStallTimeout) {
  int fd = connect_front();
  ASSERT_GE(fd, 0);
  // Nothing sent: the request must arrive within stall_timeout (1 s here).
  EXPECT_TRUE(closed_without_answer(fd));
  ::close(fd);
  fd = connect_front();
  ASSERT_GE(fd, 0);
  const std::string half = request_bytes(2, 0, 100, "abc");  // the key never completes
  ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
  EXPECT_TRUE(closed_without_answer(fd));
  ::close(fd);
  expect_alive();
}

TEST_F(NscdHostile, AMapHandedOutIsReadOnly) {
  int fd = connect_front();
  ASSERT_GE(fd, 0);
  const std::string req = request_bytes(2, 11, 7, std::string("passwd\0", 7));  // GETFDPW
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  char data[15];
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  const MapAnswer answer = receive_map(fd, data, sizeof data);
  ASSERT_EQ(answer.bytes, 15);
  EXPECT_EQ(std::string(data, 7), std::string("passwd\0", 7));
  ASSERT_GE(answer.map_fd, 0) << "no descriptor came with the answer";
  const int map_fd = answer.map_fd;
  std::uint64_t size;
  std::memcpy(&size, data + 7, 8);
  EXPECT_GT(size, 120u);
  // Neither a writable mapping, nor a write, nor a resize — also through a
  // descriptor reopened read-write (the seals are the file's, not the descriptor's).
  EXPECT_EQ(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0), MAP_FAILED);
  EXPECT_EQ(::write(map_fd, "x", 1), -1);
  EXPECT_NE(::ftruncate(map_fd, 0), 0);
  int again = ::open(("/proc/self/fd/" + std::to_string(map_fd)).c_str(), O_RDWR | O_CLOEXEC);
  if (again >= 0) {
    EXPECT_EQ(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, again, 0), MAP_FAILED);
    EXPECT_EQ(::pwrite(again, "x", 1, 0), -1);
    EXPECT_NE(::ftruncate(again, 0), 0);
    EXPECT_NE(::fcntl(again, F_ADD_SEALS, 0), 0);  // sealed against new seals, and against unsealing
    ::close(again);
  }
  const int seals = ::fcntl(map_fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
  void* ro = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, map_fd, 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_NE(::mprotect(ro, size, PROT_READ | PROT_WRITE), 0);
  ::munmap(ro, size);
  ::close(map_fd);
  ::close(fd);
}

// Four reader processes look up for 10 s while the daemon keeps replacing
// its maps (a source rewritten, `fastid cache invalidate`) and records expire
// (1 s ttls): no crash, and every answer is the dataset's.
TEST(NscdChurn, ReadersStayRightWhileMapsAreReplacedAndRecordsExpire) {
  Daemon d(2000, 100);
  configure_front(d, "\n[fastcache]\nnegative_ttl = \"1s\"\npasswd = { ttl = \"1s\" }\n");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(wait_until([&] { return fs::exists(d.dir() + "/nscd/socket"); }));
  auto figure = [&d](const std::string& key) { return d.status_figure(key); };
  const long maps_before = figure("nscd.maps_made");
  const std::string passwd = d.dir() + "/data/passwd";
  const std::string text = read_file(passwd);
  std::atomic<bool> done{false};
  CommandResult readers;
  std::thread t([&] {
    readers = in_namespace_of(d, "for i in 1 2 3 4; do (" + bin_dir() + "/nscd_churn " + passwd + " 10; echo rc=$?) > " +
                                     d.dir() + "/churn.$i 2>&1 & done; wait");
    done = true;
  });
  int rounds = 0;
  while (!done) {
    // The same users, a new file: the files provider reloads, the maps are invalidated.
    write_file(passwd + ".new", text);
    fs::rename(passwd + ".new", passwd);
    if (++rounds % 2 == 0) run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid cache invalidate all");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // pacing the churn, not waiting for a state
  }
  t.join();
  EXPECT_EQ(readers.exit_code, 0) << readers.out;
  for (int i = 1; i <= 4; ++i) {
    const std::string out = read_file(d.dir() + "/churn." + std::to_string(i));
    std::cout << "reader " << i << ": " << out;
    EXPECT_NE(out.find("wrong=0 failed=0"), std::string::npos) << out;
    EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  }
  const long maps_made = figure("nscd.maps_made") - maps_before;
  std::cout << "maps made during the run: " << maps_made << ", churn rounds: " << rounds << "\n";
  EXPECT_GT(maps_made, 10) << "the maps were not replaced during the run";
  EXPECT_GT(figure("nscd.maps_sent"), 4);
  EXPECT_TRUE(d.answers());
}

}  // namespace
}  // namespace fastid::testing
