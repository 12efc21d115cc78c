// Hostile local clients (issue #20) through the real nss socket, with raw
// frames (support/raw_client.h): lengths near 2^32, unknown opcodes, a frame
// sent one byte at a time, clients that die mid-request, half-closed sockets,
// slow readers of the 50,000-member group, and a flood of random unknown
// names against the store. After each attack: another client is served and
// the descriptors of every fastidd process are back to their baseline. Each
// case prints its figure ("[figure] ..."); docs/reliability.md, "Hostile local
// clients", lists them with the cases of limits_system_test and
// conn_budget_system_test. Needs no root: any local uid can do all of this.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <random>

#include "support/daemon_fixture.h"
#include "support/process_figures.h"
#include "support/raw_client.h"
#include "support/slow_readers.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kBigGroupMembers = 50000;
constexpr const char* kBigGroup = "biggroup";
constexpr int kStallSeconds = 1;  // the tests' [daemon] stall_timeout

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

proto::Request getpwnam(std::uint32_t id, const std::string& name) {
  return name_request(proto::Opcode::kGetpwnam, id, name);
}

proto::Request getgrnam(std::uint32_t id, const std::string& name) {
  return name_request(proto::Opcode::kGetgrnam, id, name);
}

// A daemon on the generated files, plus one group of 50,000 members.
class HostileClientsTest : public ::testing::Test {
 protected:
  HostileClientsTest() : d_(1000, 20) {
    std::string line = std::string(kBigGroup) + ":x:299999:";
    for (int i = 1; i <= kBigGroupMembers; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "%suser%05d", i == 1 ? "" : ",", i);
      line += name;
    }
    std::ofstream(d_.dir() + "/data/group", std::ios::app) << line << "\n";
    std::string cfg = d_.default_config_text();
    cfg.insert(cfg.find("log_level"), "stall_timeout = \"" + std::to_string(kStallSeconds) + "s\"\n");
    d_.write_config(cfg);
  }

  void SetUp() override {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ASSERT_TRUE(d_.start()) << d_.log();
    path_ = d_.socket_dir() + "/nss";
    // Warm: the big group is loaded and answered once before the baseline.
    {
      FrameClient c = FrameClient::unix_socket(path_);
      ASSERT_TRUE(c.send(proto::encode_request(getgrnam(1, kBigGroup))));
      proto::FrameHeader h{};
      std::vector<std::uint8_t> payload;
      ASSERT_TRUE(c.read_reply(&h, &payload));
      ASSERT_EQ(h.status, 0u);
      big_reply_bytes_ = proto::kHeaderSize + payload.size();
    }
    ASSERT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 5s)) << d_.status().out;
    baseline_fds_ = fastidd_fds(d_.pid());
  }

  // Another client is served, and the descriptors come back to the baseline
  // (the daemon closed every connection of the attack).
  void expect_recovered(const std::string& after) {
    int fd = connect_unix(path_);
    EXPECT_TRUE(lookup(fd, 4242, "user00007")) << "after " << after << ": another client is not served";
    ::close(fd);
    int now = -1;
    // At most the baseline: one the daemon held then (the closing status
    // connection, a timer) may be gone by now; one more is a leak.
    EXPECT_TRUE(wait_until([&] { return (now = fastidd_fds(d_.pid())) <= baseline_fds_; }, 10s))
        << "after " << after << ": fastidd holds " << now << " descriptors, " << baseline_fds_ << " before";
    std::printf("[figure] after %s: fastidd descriptors %d (baseline %d)\n", after.c_str(), now, baseline_fds_);
  }

  Daemon d_;
  std::string path_;
  std::size_t big_reply_bytes_ = 0;
  int baseline_fds_ = 0;
};

TEST_F(HostileClientsTest, LengthsNearTwoToThe32AreRefusedAtTheHeader) {
  for (std::uint32_t length : {0xFFFFFFFFu, 0xFFFFFFF0u, 0x80000000u, proto::kMaxPayload + 1}) {
    auto frame = proto::encode_request(getpwnam(1, "user00001"));
    proto::store_u32(frame.data() + 12, length);
    frame.resize(frame.size() + 64, 'A');  // some of the promised payload
    int fd = connect_unix(path_);
    ASSERT_GE(fd, 0);
    const auto t0 = Clock::now();
    ASSERT_TRUE(send_all(fd, frame));
    EXPECT_TRUE(closed_within(fd, 2000)) << "length " << length << ": the connection stays open";
    std::printf("[figure] length 0x%08x: closed in %.1f ms, nothing read past the header\n", length,
                seconds_since(t0) * 1000);
    ::close(fd);
    expect_recovered("length " + std::to_string(length));
  }
}

TEST_F(HostileClientsTest, UnknownOpcodesGetAnErrorAndTheConnectionGoesOn) {
  int fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  int answered = 0;
  const std::uint16_t opcodes[] = {0x0000, 0x0009, 0x00EE, 0x0FFF, 0x7777, 0xFFFF};
  for (std::uint16_t op : opcodes) {
    auto frame = proto::encode_request(getpwnam(op + 100u, "user00001"));
    proto::store_u16(frame.data() + 2, op);
    ASSERT_TRUE(send_all(fd, frame));
    auto reply = read_reply(fd);
    ASSERT_TRUE(reply) << "opcode 0x" << std::hex << op << ": no reply";
    EXPECT_EQ(reply->header.request_id, op + 100u);
    EXPECT_NE(reply->header.status, 0u) << "opcode 0x" << std::hex << op << " answered as a success";
    answered += reply->header.status != 0 ? 1 : 0;
    // The same connection still answers a real request.
    EXPECT_TRUE(lookup(fd, 9, "user00002")) << "after opcode 0x" << std::hex << op;
  }
  std::printf("[figure] %d unknown opcodes, %d answered with an error, connection kept\n",
              static_cast<int>(std::size(opcodes)), answered);
  ::close(fd);
  expect_recovered("unknown opcodes");
}

TEST_F(HostileClientsTest, AFrameSentOneByteAtATimeIsAnsweredRightly) {
  int fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  const auto frame = proto::encode_request(getpwnam(77, "user00123"));
  const auto t0 = Clock::now();
  for (std::uint8_t b : frame) {
    ASSERT_EQ(::send(fd, &b, 1, MSG_NOSIGNAL), 1);
    std::this_thread::sleep_for(2ms);  // each byte in a read of its own
  }
  auto reply = read_reply(fd);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->header.request_id, 77u);
  auto user = model::answer_as<model::User>(proto::decode_answer(model::Kind::kUserByName, *reply));
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "user00123");
  std::printf("[figure] a %zu-byte frame in %zu one-byte sends over %.0f ms: answered rightly\n", frame.size(),
              frame.size(), seconds_since(t0) * 1000);
  EXPECT_TRUE(lookup(fd, 78, "user00124"));
  ::close(fd);
  expect_recovered("one byte at a time");
}

TEST_F(HostileClientsTest, ClientsThatDieMidRequestCostNothing) {
  constexpr int kEach = 20;
  const auto frame = proto::encode_request(getgrnam(5, kBigGroup));
  std::vector<pid_t> kids;
  for (int i = 0; i < 3 * kEach; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int fd = connect_unix(path_);
      if (fd < 0) ::_exit(2);
      std::vector<std::uint8_t> part(frame);
      if (i < kEach) part.resize(proto::kHeaderSize / 2);             // mid-header
      else if (i < 2 * kEach) part.resize(proto::kHeaderSize + 3);    // mid-payload
      if (!send_all(fd, part)) ::_exit(3);
      if (i >= 2 * kEach) std::this_thread::sleep_for(50ms);  // the whole request: the reply is on its way
      ::raise(SIGKILL);  // dies without closing or reading
    }
    kids.push_back(pid);
  }
  int killed = 0;
  for (pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 1 : 0;
  }
  EXPECT_EQ(killed, 3 * kEach) << "a client could not send its part";
  const auto t0 = Clock::now();
  EXPECT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 10s));
  std::printf("[figure] %d clients SIGKILLed mid-header, %d mid-payload, %d before reading a %zu-byte reply: "
              "all connections gone %.0f ms later\n",
              kEach, kEach, kEach, big_reply_bytes_, seconds_since(t0) * 1000);
  expect_recovered("clients killed mid-request");
}

TEST_F(HostileClientsTest, HalfClosedSockets) {
  // Write side shut after the request: the reply still comes, then the
  // daemon sees the end and closes.
  int fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, proto::encode_request(getgrnam(11, kBigGroup))));
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
  auto reply = read_reply(fd);
  ASSERT_TRUE(reply) << "no reply after shutdown(SHUT_WR)";
  EXPECT_EQ(reply->header.status, 0u);
  auto group = model::answer_as<model::Group>(proto::decode_answer(model::Kind::kGroupByName, *reply));
  ASSERT_TRUE(group);
  EXPECT_EQ(group->members.size(), static_cast<std::size_t>(kBigGroupMembers));
  EXPECT_TRUE(closed_within(fd, 2000)) << "the daemon keeps a connection whose peer stopped writing";
  ::close(fd);
  expect_recovered("shutdown(SHUT_WR)");

  // Read side shut after the request: the daemon's write fails or lands
  // nowhere; it closes the connection either way.
  fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, proto::encode_request(getgrnam(12, kBigGroup))));
  ASSERT_EQ(::shutdown(fd, SHUT_RD), 0);
  const auto t0 = Clock::now();
  EXPECT_TRUE(wait_until([&] { return d_.status_value("connections.open") == "1"; }, 10s))
      << "the daemon keeps a connection whose peer stopped reading";
  const double rd_ms = seconds_since(t0) * 1000;
  ::close(fd);
  expect_recovered("shutdown(SHUT_RD)");
  std::printf("[figure] SHUT_WR: %zu-byte reply received whole, then closed; SHUT_RD: closed %.0f ms later\n",
              big_reply_bytes_, rd_ms);
}

// Slow readers of the largest reply: 205 connections are opened, then each
// asks for the 50,000-member group in one burst; 200 never read, 5 read one
// byte every 200 ms. Every reply to that group is written from one shared,
// immutable payload (server/shared_replies.h), a 4 KiB slice per loop turn:
// the loop encodes it once, each request costs a header, a reference and a
// slice, so
// - the front worker's longest loop turn, read from `fastid status` as an
//   operator would (loop.longest_turn_cpu_us: the loop thread's CPU time in
//   its longest turn), stays within 10 ms. The wall-clock figure is printed,
//   not judged: on the shared 2-core machine it is dominated by waiting for
//   a CPU (docs/reliability.md "Loop latency"). Before the sharing, each
//   request copied and encoded the 650 KB group on the loop (~3.5 ms of CPU
//   each) and the burst held one turn for 711 ms of CPU;
// - memory stays under the baseline plus 4 payloads (the table's and one
//   being replaced, each at most kMaxPayload) plus 40 KiB per slow reader
//   (its connection, coroutine and the socket's bookkeeping): the figure is
//   every fastidd process's RSS summed. Before the sharing the burst took it
//   365 MiB over the baseline (a copy per reply).
// fastidd closes each slow reader after the stall timeout and keeps serving.
//
// The loop-turn gauge is a maximum since the worker started: it holds the
// warm-up's one encoding of the group (about 4.5 ms, its copy out of the
// files index and its encoding; the fast cache publish runs in a turn of its
// own), so what is asserted is that the readers did not raise it above 10 ms
// (or above that warm-up turn, if the machine's load made it longer).
//
// Under ASan, 25 readers (not run under ASan with 200 since the sharing) and
// neither bound is judged, only printed: ASan's quarantine keeps freed
// memory resident, and its instrumentation makes every handler several
// times slower, so a turn's CPU time measures ASan.
TEST_F(HostileClientsTest, SlowReadersOfTheBigGroupAreClosedAfterTheStallTimeout) {
#ifdef FASTID_ASAN_RUNTIME
  constexpr bool kJudge = false;
  constexpr int kSilent = 25, kDrip = 5;
#else
  constexpr bool kJudge = true;
  constexpr int kSilent = 200, kDrip = 5;
#endif
  constexpr long kMaxTurnUs = 10000;
  const long turn_cpu0 = d_.status_figure("loop.longest_turn_cpu_us");
  const long turn0 = d_.status_figure("loop.longest_turn_us");
  const double cpu0 = fastidd_cpu_ms(d_.pid());
  const SlowReadersFigures f = run_slow_readers(
      d_, {.socket = path_, .request = proto::encode_request(getgrnam(21, kBigGroup)), .silent = kSilent,
           .drip = kDrip, .stall_seconds = kStallSeconds, .probe_users = 1000});
  ASSERT_TRUE(f.started) << f.setup_error;
  EXPECT_EQ(f.failed, 0);
  EXPECT_GT(f.served, 0);
  // Every slow connection is closed by the daemon (the stall timeout) before
  // its reply was taken.
  EXPECT_TRUE(f.all_closed) << "still open: " << f.open_at_end;
  // A drip reader sees the end of the stream after a part of its reply.
  for (std::size_t i = 0; i < f.drip_bytes.size(); ++i) {
    EXPECT_LT(f.drip_bytes[i], big_reply_bytes_) << "drip reader " << i << " got its whole reply";
  }
  const std::uint64_t rss1 = fastidd_rss_kib(d_.pid());
  const double cpu_ms = fastidd_cpu_ms(d_.pid()) - cpu0;
  const std::uint64_t bound_kib = (4 * std::uint64_t{proto::kMaxPayload} + kSilent * 40 * 1024) / 1024 + f.rss0_kib;
  const long turn_cpu = d_.status_figure("loop.longest_turn_cpu_us");
  const long turn = d_.status_figure("loop.longest_turn_us");
  const std::string shared_hits = d_.status_value("shared_replies.hits");
  std::printf("[figure] %d silent + %d one-byte readers of a %zu-byte reply: all closed %.1f s after they asked "
              "(stall_timeout %d s); fastidd RSS %llu KiB before, %llu KiB peak (+%llu), %llu KiB after; bound "
              "%llu KiB; %d lookups served alongside (worst %.1f ms), %d failed; longest loop turn %ld us of CPU "
              "(%ld before the readers), %ld us wall clock (%ld before); replies from the shared payload %s; fastidd CPU "
              "%.0f ms over the case\n",
              kSilent, kDrip, big_reply_bytes_, f.closed_s, kStallSeconds, static_cast<unsigned long long>(f.rss0_kib),
              static_cast<unsigned long long>(f.peak_kib), static_cast<unsigned long long>(f.peak_kib - f.rss0_kib),
              static_cast<unsigned long long>(rss1), static_cast<unsigned long long>(bound_kib), f.served, f.worst_ms,
              f.failed, turn_cpu, turn_cpu0, turn, turn0, shared_hits.c_str(), cpu_ms);
  ASSERT_GE(turn_cpu, 0) << "no loop.longest_turn_cpu_us in fastid status";
  if (kJudge) {
    EXPECT_LE(turn_cpu, std::max(turn_cpu0, kMaxTurnUs))
        << "a turn of the front worker's loop ran longer than 10 ms while it answered the readers";
    EXPECT_LT(f.peak_kib, bound_kib) << "fastidd held more than the shared payloads and a little per slow reader";
  }
  EXPECT_LT(f.closed_s, kStallSeconds + 8.0);
  expect_recovered("slow readers");
}

// The shared payload of the big group (server/shared_replies.h) is answered
// to each requester under its own request id, on one connection or several,
// pipelined or not; and once the group file changes and the provider has
// reloaded it, the very next request gets the new version, never the old
// shared buffer.
TEST_F(HostileClientsTest, SharedBigRepliesGoToTheirRequestersAndANewVersionReplacesThem) {
  auto members_of = [](const proto::Reply& reply) -> std::vector<std::string> {
    auto group = model::answer_as<model::Group>(proto::decode_answer(model::Kind::kGroupByName, reply));
    return group ? group->members : std::vector<std::string>{};
  };
  int a = connect_unix(path_), b = connect_unix(path_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::vector<std::uint8_t> pipelined = proto::encode_request(getgrnam(31, kBigGroup));
  for (const auto& f : {proto::encode_request(getpwnam(32, "user00001")), proto::encode_request(getgrnam(33, kBigGroup))})
    pipelined.insert(pipelined.end(), f.begin(), f.end());
  ASSERT_TRUE(send_all(a, pipelined));
  ASSERT_TRUE(send_all(b, proto::encode_request(getgrnam(34, kBigGroup))));
  for (std::uint32_t id : {31u, 32u, 33u}) {
    auto reply = read_reply(a);
    ASSERT_TRUE(reply) << "request " << id;
    EXPECT_EQ(reply->header.request_id, id);
    EXPECT_EQ(reply->header.status, 0u);
    if (id != 32) {
      EXPECT_EQ(members_of(*reply).size(), static_cast<std::size_t>(kBigGroupMembers));
    }
  }
  auto reply_b = read_reply(b);
  ASSERT_TRUE(reply_b);
  EXPECT_EQ(reply_b->header.request_id, 34u);
  EXPECT_EQ(members_of(*reply_b).size(), static_cast<std::size_t>(kBigGroupMembers));
  const long hits = d_.status_figure("shared_replies.hits");
  EXPECT_GE(hits, 3) << "the big group was not answered from its shared payload";

  // A new version: the last member renamed, the file replaced whole.
  const std::string group_path = d_.dir() + "/data/group";
  std::string text = read_file(group_path);
  const std::string last = "user" + std::to_string(kBigGroupMembers);
  ASSERT_NE(text.find("," + last + "\n"), std::string::npos);
  text.replace(text.find("," + last + "\n"), last.size() + 2, ",newcomer1\n");
  write_file(group_path + ".new", text);
  ASSERT_EQ(::rename((group_path + ".new").c_str(), group_path.c_str()), 0);
  const long loads = d_.status_figure("provider.test.loads");
  ASSERT_TRUE(wait_until([&] { return d_.status_figure("provider.test.loads") > loads; }, 10s))
      << "the provider did not reload the group file";
  ASSERT_TRUE(send_all(b, proto::encode_request(getgrnam(35, kBigGroup))));
  auto fresh = read_reply(b);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->header.request_id, 35u);
  const std::vector<std::string> members = members_of(*fresh);
  ASSERT_EQ(members.size(), static_cast<std::size_t>(kBigGroupMembers));
  EXPECT_EQ(members.back(), "newcomer1") << "answered from the shared payload of the version before the reload";
  std::printf("[figure] 4 requests of 2 connections answered from one shared payload under their own ids (%ld "
              "hits); after the group file changed, the next reply was the new version\n",
              hits);
  ::close(a);
  ::close(b);
  expect_recovered("shared replies");
}

// A flood of random unknown names against the store: the negative answers
// have their own budget ([store] max_negative_entries), so they evict older
// negative answers and never a real user. The directory is the slow
// provider; with it down afterwards, every real user must still be answered
// from the store. The store map is small (1 MiB) so that, without the budget,
// the flood filled it and evicted the users (fetched first, so oldest).
TEST(HostileFloodTest, RandomUnknownNamesNeverEvictRealUsersFromTheStore) {
  constexpr int kUsers = 1000, kFlood = 20000, kBudget = 2000;
  Daemon d(10, 2);
  const std::string down = d.dir() + "/down";
  d.write_config("[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
                 "/state\"\nlog_level = \"info\"\n\n[store]\nsize = \"1MiB\"\nmax_negative_entries = " +
                 std::to_string(kBudget) +
                 "\n\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
                 "initgroups = { enabled = false }\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\n"
                 "users = 2000\ngroups = 100\ndown_file = \"" + down + "\"\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::string path = d.socket_dir() + "/nss";
  auto user_name = [](int i) {
    char name[16];
    std::snprintf(name, sizeof name, "user%05d", i);
    return std::string(name);
  };
  int fd = connect_unix(path);
  ASSERT_GE(fd, 0);
  for (int i = 1; i <= kUsers; ++i) ASSERT_TRUE(lookup(fd, static_cast<std::uint32_t>(i), user_name(i).c_str()));
  auto drained = [&] { return d.status_value("store.writer.queued") == "0"; };
  ASSERT_TRUE(wait_until(drained));

  // The flood: pipelined, 100 requests in flight per round.
  std::mt19937_64 rng(20);
  const auto t0 = Clock::now();
  int not_found = 0;
  for (int sent = 0; sent < kFlood; sent += 100) {
    std::vector<std::uint8_t> batch;
    for (int j = 0; j < 100; ++j) {
      char name[24];
      std::snprintf(name, sizeof name, "x%016llx", static_cast<unsigned long long>(rng()));
      auto f = proto::encode_request(getpwnam(static_cast<std::uint32_t>(sent + j), name));
      batch.insert(batch.end(), f.begin(), f.end());
    }
    ASSERT_TRUE(send_all(fd, batch));
    for (int j = 0; j < 100; ++j) {
      auto reply = read_reply(fd);
      ASSERT_TRUE(reply) << "flood request " << sent + j;
      not_found += reply->header.status == static_cast<std::uint32_t>(proto::WireStatus::kNotFound) ? 1 : 0;
    }
  }
  const double flood_s = seconds_since(t0);
  ASSERT_TRUE(wait_until(drained));
  const std::string entries = d.status_value("store.entries"), negatives = d.status_value("store.negative_entries"),
                    neg_evicted = d.status_value("store.negative_evictions"),
                    evicted = d.status_value("store.evictions");

  // The directory goes away: every real user is answered from the store.
  write_file(down, "");
  int answered = 0;
  for (int i = 1; i <= kUsers; ++i) answered += lookup(fd, static_cast<std::uint32_t>(i), user_name(i).c_str()) ? 1 : 0;
  ::close(fd);
  std::printf("[figure] %d random unknown names in %.2f s (%d \"no such user\"): store entries %s, negative %s "
              "(budget %d), evicted %s (negative %s); with the directory down %d of %d real users answered from "
              "the store\n",
              kFlood, flood_s, not_found, entries.c_str(), negatives.c_str(), kBudget, evicted.c_str(),
              neg_evicted.c_str(), answered, kUsers);
  EXPECT_EQ(answered, kUsers) << "the flood of unknown names evicted real users";
  EXPECT_EQ(evicted, neg_evicted) << "a positive record was evicted";
  EXPECT_LE(std::stol(negatives.empty() ? "0" : negatives), kBudget);
}

}  // namespace
}  // namespace fastid::testing
