// Connection limits at scale: ten thousand idle connections held while
// another client keeps its latency, stalled half-frames closed after the
// stall timeout, garbage disconnected, the per-worker connection limit — and
// through all of it, honest clients are served.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string_view>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The target is p99 < 5 ms; it is printed and recorded in
// docs/benchmarks.md from a quiet run. The test judges the latency against a
// baseline taken in the same run, before the idle connections are opened:
// p99 may grow by kP99Factor, or by kP99SlackMs on a machine so quiet that
// the baseline is a fraction of a millisecond. A busy machine slows both runs
// alike; a stall of the loop behind the idle connections costs far more.
#ifdef FASTID_ASAN_RUNTIME
constexpr int kIdleConnections = 2000;  // ASan's shadow memory makes 10,000 needlessly slow
#else
constexpr int kIdleConnections = 10000;
#endif
constexpr double kP99Factor = 5.0;
constexpr double kP99SlackMs = 25.0;

void raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

std::uint64_t kib_field(const std::string& file, const std::string& key) {
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size()));
  }
  return 0;
}

// A client that keeps `rate` lookups a second on one connection for `seconds`
// and records every latency.
struct Paced {
  std::vector<double> ms;
  int failures = 0;
  double elapsed_s = 0;  // a client that keeps its rate finishes on time
};

Paced paced_lookups(const std::string& path, int rate, double seconds) {
  Paced out;
  const auto started = Clock::now();
  int fd = connect_unix(path);
  if (fd < 0) {
    out.failures = 1;
    return out;
  }
  const auto period = std::chrono::nanoseconds(1000000000 / rate);
  auto next = Clock::now();
  const int total = static_cast<int>(rate * seconds);
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(next);
    next += period;
    char name[16];
    std::snprintf(name, sizeof name, "user%05d", 1 + (i * 37) % 1000);
    auto t0 = Clock::now();
    bool ok = lookup(fd, static_cast<std::uint32_t>(i + 1), name);
    out.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!ok) ++out.failures;
  }
  ::close(fd);
  out.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

TEST(LimitsSystemTest, TenThousandIdleConnectionsAreHeldWhileAnotherClientKeepsItsLatency) {
  raise_fd_limit();  // the daemon inherits it
  Daemon d(1000, 100);
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "max_connections = 20000\nidle_timeout = \"10m\"\n");
  d.write_config(cfg);
  ASSERT_TRUE(d.start()) << d.log();
  const std::string path = d.socket_dir() + "/nss";
  // Warm up: the worker's allocator and the provider data are in place.
  {
    int fd = connect_unix(path);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(lookup(fd, static_cast<std::uint32_t>(i + 1), "user00001"));
    ::close(fd);
  }
  // The baseline: the same client, no idle connections.
  const Paced base = paced_lookups(path, 1000, 2.0);
  const double base_p99 = percentile(base.ms, 0.99);
  const std::string proc = "/proc/" + std::to_string(d.pid());
  const auto rss0 = kib_field(proc + "/status", "VmRSS:");
  const auto pss0 = kib_field(proc + "/smaps_rollup", "Pss:");

  std::vector<int> idle;
  idle.reserve(kIdleConnections);
  for (int i = 0; i < kIdleConnections; ++i) {
    int fd = connect_unix(path);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    idle.push_back(fd);
  }
  // Every one of them is accepted and registered (not just queued): polled.
  std::string open;
  EXPECT_TRUE(wait_until([&] {
    open = d.status_value("connections.open");
    return open == std::to_string(kIdleConnections + 1);
  })) << open << " open; want the idle ones and the status query's own";
  const auto rss1 = kib_field(proc + "/status", "VmRSS:");
  const auto pss1 = kib_field(proc + "/smaps_rollup", "Pss:");
  const double per_conn_rss = (static_cast<double>(rss1) - static_cast<double>(rss0)) * 1024.0 / kIdleConnections;
  const double per_conn_pss = (static_cast<double>(pss1) - static_cast<double>(pss0)) * 1024.0 / kIdleConnections;

  Paced p = paced_lookups(path, 1000, 5.0);
  const double p50 = percentile(p.ms, 0.50), p99 = percentile(p.ms, 0.99), max = percentile(p.ms, 1.0);
  std::printf("%d idle connections: worker RSS %llu -> %llu KiB (%.0f bytes per connection), PSS %llu -> %llu KiB "
              "(%.0f bytes per connection)\n",
              kIdleConnections, static_cast<unsigned long long>(rss0), static_cast<unsigned long long>(rss1),
              per_conn_rss, static_cast<unsigned long long>(pss0), static_cast<unsigned long long>(pss1),
              per_conn_pss);
  std::printf("1000 lookups/s for 5 s alongside: %zu lookups in %.2f s, p50 %.3f ms, p99 %.3f ms, max %.3f ms, "
              "%d failed; baseline without them: p99 %.3f ms\n",
              p.ms.size(), p.elapsed_s, p50, p99, max, p.failures, base_p99);
  EXPECT_EQ(base.failures, 0);
  EXPECT_EQ(p.failures, 0);
  EXPECT_EQ(p.ms.size(), 5000u);
  EXPECT_LT(p99, std::max(base_p99 * kP99Factor, base_p99 + kP99SlackMs))
      << "the idle connections slowed the other client's lookups";
  // Idle connections cost memory, bounded: the target is 4 KiB each; the
  // assertion leaves room for a noisy machine.
  EXPECT_LT(per_conn_rss, 8192.0);

  // They are all still open and usable afterwards.
  for (int i = 0; i < kIdleConnections; i += kIdleConnections / 10) {
    EXPECT_TRUE(lookup(idle[static_cast<size_t>(i)], 7, "user00002")) << "idle connection " << i;
  }
  for (int fd : idle) ::close(fd);
  int status = d.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(LimitsSystemTest, StalledHalfFramesAreClosedAfterTheStallTimeoutAndGarbageIsDisconnected) {
  raise_fd_limit();
  Daemon d(1000, 100);
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "stall_timeout = \"1s\"\n");
  d.write_config(cfg);
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  const std::string path = d.socket_dir() + "/nss";

  // 1,000 connections send half a frame (the header promises 64 bytes of
  // payload, 10 arrive) and stall.
  std::vector<int> stalled;
  auto half = proto::encode_request({proto::Opcode::kGetpwnam, 1, "user00001", 0, 0, 0});
  proto::store_u32(half.data() + 12, 64);
  half.resize(proto::kHeaderSize + 10);
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_unix(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
    stalled.push_back(fd);
  }
  // 200 connections send random bytes: a frame header no version has.
  std::vector<int> garbage;
  std::uint32_t x = 12345;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_unix(path);
    ASSERT_GE(fd, 0);
    std::vector<std::uint8_t> junk(256);
    for (auto& b : junk) {
      x = x * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(x >> 16);
    }
    junk[0] = proto::kVersion;
    junk[1] = static_cast<std::uint8_t>(0x80 | junk[1]);  // unknown flags: the stream cannot be trusted
    ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    garbage.push_back(fd);
  }
  const auto sent = Clock::now();
  // Meanwhile, another client is served at 500 lookups a second.
  Paced p = paced_lookups(path, 500, 2.0);
  EXPECT_EQ(p.failures, 0);
  std::printf("during the stall: %zu lookups, p99 %.3f ms\n", p.ms.size(), percentile(p.ms, 0.99));

  int garbage_closed = 0;
  for (int fd : garbage) garbage_closed += closed_within(fd, 100) ? 1 : 0;
  EXPECT_EQ(garbage_closed, 200) << "random bytes get a disconnect";
  // Each stalled one closed by the 1 s stall timeout: waited for (30 s at
  // most for the first; the rest are closed by then), not timed. Left open,
  // they would stay until the 1 min idle timeout.
  int stall_closed = 0;
  for (int fd : stalled) stall_closed += closed_within(fd, 30000) ? 1 : 0;
  const double after = std::chrono::duration<double>(Clock::now() - sent).count();
  std::printf("the stalled connections closed %.2f s after they stalled (stall_timeout 1 s)\n", after);
  EXPECT_EQ(stall_closed, 1000) << "closed after the 1 s stall timeout";
  for (int fd : stalled) ::close(fd);
  for (int fd : garbage) ::close(fd);
  // The workers publish their figures every 500 ms: polled until both
  // workers' sum holds every close.
  std::uint64_t closed_protocol = 0;
  const bool counted = wait_until([&] {
    auto total = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status");
    std::istringstream lines(total.out);
    closed_protocol = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("worker.", 0) == 0 && line.find(".connections.closed_protocol ") != std::string::npos) {
        closed_protocol += std::stoull(line.substr(line.find_last_of(' ') + 1));
      }
    }
    return closed_protocol >= 1200u;
  });
  std::printf("closed for protocol errors or stalls, over both workers: %llu\n",
              static_cast<unsigned long long>(closed_protocol));
  EXPECT_TRUE(counted) << closed_protocol << " closes counted, want at least 1200";
  EXPECT_EQ(d.getent("passwd user00003").exit_code, 0);
}

// One figure of the status reply, asked on the admin socket. `fastid status`
// asks on the nss socket (libfastid's fastid_daemon_status), so its own
// connection is one of the nss class it reports (a count of 49 reads 50), and
// at the class's cap it is itself refused; the admin class has its own budget.
std::string admin_status_value(const Daemon& d, const std::string& key) {
  int fd = connect_unix(d.socket_dir() + "/admin");
  if (fd < 0) return "";
  auto reply = exchange(fd, {proto::Opcode::kStatus, 1, "", 0, 0, 0});
  ::close(fd);
  if (!reply || reply->header.status != 0) return "";
  proto::WireReader r(reply->payload.data(), reply->payload.size());
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && !r.bad; ++i) {
    std::uint32_t kl = 0, vl = 0;
    const char* k = r.str(proto::kMaxFieldLength, &kl);
    const char* v = r.str(proto::kMaxFieldLength, &vl);
    if (!r.bad && std::string_view(k, kl) == key) return std::string(v, vl);
  }
  return "";
}

TEST(LimitsSystemTest, PastMaxConnectionsNewPeersAreClosedAndTheOthersAreServed) {
  Daemon d(100, 10);
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "max_connections = 50\n");
  d.write_config(cfg);
  ASSERT_TRUE(d.start()) << d.log();
  const std::string path = d.socket_dir() + "/nss";
  ASSERT_TRUE(wait_until([&] { return admin_status_value(d, "connections.open.nss") == "0"; }))
      << "the start's own probe is still counted";
  const long accepted_before = std::stol(admin_status_value(d, "connections.accepted.nss"));
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) fds.push_back(connect_unix(path));
  ASSERT_TRUE(lookup(fds[49], 1, "user00001")) << "the 50th is in";
  int over = connect_unix(path);
  ASSERT_GE(over, 0);
  EXPECT_TRUE(closed_within(over, 2000)) << "the 51st is closed at once";
  ::close(over);
  // The 50 held connections are unaffected.
  for (size_t i = 0; i < fds.size(); i += 7) EXPECT_TRUE(lookup(fds[i], 2, "user00002"));
  // One leaves; a newcomer gets its place. The place is free once the
  // worker has read the leaver's EOF (an idle connection waits for
  // readability and sees the close on that loop turn): polled on the nss
  // class's count, asked outside that class.
  EXPECT_EQ(admin_status_value(d, "connections.open.nss"), "50");
  ::close(fds.back());
  fds.pop_back();
  std::string open;
  EXPECT_TRUE(wait_until([&] { return (open = admin_status_value(d, "connections.open.nss")) == "49"; }))
      << open << " nss connections open after one of 50 left";
  int newcomer = connect_unix(path);
  EXPECT_TRUE(lookup(newcomer, 3, "user00003"));
  ::close(newcomer);
  for (int fd : fds) ::close(fd);
  // Every close is noticed and gives its place back; only the 51st was refused.
  EXPECT_TRUE(wait_until([&] { return (open = admin_status_value(d, "connections.open.nss")) == "0"; }))
      << open << " nss connections open after all left";
  EXPECT_EQ(admin_status_value(d, "connections.rejected"), "1");
  EXPECT_EQ(admin_status_value(d, "connections.accepted.nss"), std::to_string(accepted_before + 51))
      << "50, then the newcomer";
}

}  // namespace
}  // namespace fastid::testing
