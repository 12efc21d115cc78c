// The metrics listener through the real daemon (issue #13, docs/operations.md
// "Metrics"): real curl scrapes GET /metrics from a fastidd with two front
// workers, Prometheus' own parser (python3-prometheus-client) reads the
// document, and the figures move after lookups through the nss socket, a PAM
// failure through real pamtester and a pooled provider's lookup — summed over
// both front workers. Then hostile peers: other methods and paths, garbage, an
// oversized head, a slowloris that dribbles bytes, a flood of idle
// connections from one address; lookups keep being answered throughout.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_fixture.h"
#include "support/pam_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;

class MetricsSystemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    if (run("command -v curl >/dev/null && /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null").exit_code != 0) {
      return;  // SetUp fails the tests: scripts/install-deps installs both
    }
    d_ = new PamDaemon("max_failures = 5\nfailure_window = \"1m\"\nlockout_time = \"2s\"\n");
    std::string config = read_file(d_->config_path());
    // Two front workers; a 2 s stall timeout for the slowloris below, and
    // no idle timeout of TCP peers within a test (1 h), so that only the
    // stall timeout or an eviction can close a metrics connection.
    config.replace(config.find("[daemon]\n"), 9,
                   "[daemon]\nworkers = 2\nstall_timeout = \"2s\"\nnetwork_idle_timeout = \"1h\"\n");
    config += "\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\nusers = 200\ngroups = 20\n";
    config += "\n[metrics]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 2\n";
    d_->write_config(config);
    ASSERT_TRUE(d_->start()) << d_->log();
    // The port the kernel chose, from the start-up line.
    ASSERT_TRUE(wait_until([] { return d_->log().find("serving metrics on http://127.0.0.1:") != std::string::npos; }))
        << d_->log();
    const std::string log = d_->log();
    const std::size_t at = log.find("serving metrics on http://127.0.0.1:") + 36;
    port_ = std::stoi(log.substr(at, log.find('/', at) - at));
    // The daemon is ready when one front worker serves; both have published
    // their figures a moment later.
    ASSERT_TRUE(wait_until([] { return !d_->status_value("worker.1.pid").empty() && !d_->status_value("worker.0.pid").empty(); }))
        << d_->status().out;
  }
  static void TearDownTestSuite() {
    if (d_ == nullptr) return;
    d_->stop(SIGTERM);
    delete d_;
    d_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m for pamtester";
    ASSERT_NE(d_, nullptr) << "curl or python3-prometheus-client missing: run scripts/install-deps";
    ASSERT_GT(port_, 0);
  }

  static std::string url() { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

  // The document of one scrape with real curl (fails the test on anything but 200).
  static std::string scrape() {
    const std::string body = d_->dir() + "/scrape.txt", headers = d_->dir() + "/scrape.head";
    auto r = run("curl -sS --max-time 5 -o " + body + " -D " + headers + " -w '%{http_code}' " + url());
    EXPECT_EQ(r.out, "200") << read_file(headers);
    EXPECT_NE(read_file(headers).find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
        << read_file(headers);
    return read_file(body);
  }

  // One sample's value ("name{labels}" as written), -1 when absent.
  static double value(const std::string& text, const std::string& series) {
    const std::string line_start = "\n" + series + " ";
    const std::string doc = "\n" + text;
    const std::size_t at = doc.find(line_start);
    if (at == std::string::npos) return -1;
    return std::stod(doc.substr(at + line_start.size(), doc.find('\n', at + 1) - at - line_start.size()));
  }
  static double scraped(const std::string& series) { return value(scrape(), series); }

  // One getpwnam over its own connection to the nss socket (not the fast
  // cache: every one reaches a front worker, whichever the kernel picks).
  static bool socket_lookup(const char* name) {
    int fd = connect_unix(d_->socket_dir() + "/nss");
    if (fd < 0) return false;
    const bool ok = lookup(fd, 7, name);
    ::close(fd);
    return ok;
  }

  // What a raw HTTP peer gets back for `bytes` (everything until the daemon closes).
  static std::string raw_http(const std::string& bytes) {
    int fd = connect_tcp(port_);
    if (fd < 0) return "connect failed";
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) break;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }

  static long worker_requests(int i) { return d_->status_figure("worker." + std::to_string(i) + ".requests"); }

  static PamDaemon* d_;
  static int port_;
};
PamDaemon* MetricsSystemTest::d_ = nullptr;
int MetricsSystemTest::port_ = 0;

TEST_F(MetricsSystemTest, PrometheusParsesTheDocument) {
  const std::string body = scrape();
  const std::string path = d_->dir() + "/parse.txt";
  write_file(path, body);
  const std::string script = d_->dir() + "/parse.py";
  write_file(script,
             "import sys\n"
             "from prometheus_client.parser import text_string_to_metric_families\n"
             "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
             "want = {'fastid_lookups': 'counter', 'fastid_lookup_duration_seconds': 'histogram',\n"
             "        'fastid_connections_open': 'gauge', 'fastid_pam_authentications': 'counter',\n"
             "        'fastid_store_entries': 'gauge', 'fastid_fastcache_entries': 'gauge',\n"
             "        'fastid_pool_workers': 'gauge', 'fastid_pool_queue_length': 'gauge',\n"
             "        'fastid_provider_online': 'gauge', 'fastid_store_evictions': 'counter',\n"
             "        'fastid_fastcache_evictions': 'counter', 'fastid_pam_lockouts': 'counter'}\n"
             "for name, kind in want.items():\n"
             "    assert name in fams, (name, sorted(fams))\n"
             "    assert fams[name].type == kind, (name, fams[name].type)\n"
             "n = sum(len(f.samples) for f in fams.values())\n"
             "print('parsed', len(fams), n)\n");
  auto r = run("/usr/bin/python3 " + script + " " + path + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out << "\n" << body;
  EXPECT_EQ(r.out.rfind("parsed ", 0), 0u) << r.out;
  EXPECT_EQ(value(body, "fastid_front_workers"), 2) << body;
}

TEST_F(MetricsSystemTest, LookupsOfBothFrontWorkersAndAPamFailureAreCounted) {
  const std::string found = "fastid_lookups_total{kind=\"user_by_name\",result=\"found\"}";
  const std::string count = "fastid_lookup_duration_seconds_count{kind=\"user_by_name\"}";
  // The document sums the snapshot every front worker published (every
  // 500 ms). Every lookup of the earlier cases was counted before this
  // instant (a lookup is counted before its reply is written, and each reply
  // has been read); a snapshot published after it holds them all. Observed,
  // not waited for: each worker's last publication (worker.N.age_ms, on the
  // system's monotonic clock, which is steady_clock's) is after `settled`.
  const auto settled = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] {
    for (int i = 0; i < 2; ++i) {
      const auto asked_at = std::chrono::steady_clock::now();
      const long age_ms = d_->status_figure("worker." + std::to_string(i) + ".age_ms");
      // Published no earlier than asked_at - age_ms - 1 ms (whole milliseconds).
      if (age_ms < 0 || asked_at - std::chrono::milliseconds(age_ms + 1) <= settled) return false;
    }
    return true;
  })) << d_->status().out;
  const double before = scraped(found);
  // Lookups until each front worker has answered some (the kernel picks who
  // accepts each connection): the sum must then hold both workers' shares.
  const long r0 = worker_requests(0), r1 = worker_requests(1);
  ASSERT_GE(r0, 0) << d_->status().out;
  ASSERT_GE(r1, 0) << d_->status().out;
  int asked = 0;
  bool both = false;
  while (!both && asked < 2000) {
    for (int i = 0; i < 50; ++i, ++asked) ASSERT_TRUE(socket_lookup("user00002"));
    // A status request counts in one worker's figure too: more than 2 each.
    both = worker_requests(0) - r0 > 2 && worker_requests(1) - r1 > 2;
  }
  ASSERT_TRUE(both) << "the kernel gave every connection to one front worker: " << d_->status().out;
  EXPECT_TRUE(wait_until([&] { return scraped(found) == before + asked; }, 10s))
      << "want " << before + asked << ", scraped " << scraped(found);
  const std::string doc = scrape();
  EXPECT_GE(value(doc, count), before + asked);
  EXPECT_EQ(value(doc, count), value(doc, "fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"+Inf\"}"));
  EXPECT_GT(value(doc, "fastid_lookup_duration_seconds_sum{kind=\"user_by_name\"}"), 0);

  // A PAM failure (a wrong password through real libpam) and a success.
  const std::string failure = "fastid_pam_authentications_total{result=\"failure\"}";
  const std::string success = "fastid_pam_authentications_total{result=\"success\"}";
  const double failures = scraped(failure), successes = scraped(success);
  auto bad = d_->pamtester("fastid-test", "user00003", "Wrong-guess.0");
  EXPECT_NE(bad.exit_code, 0) << bad.out;
  auto good = d_->pamtester("fastid-test", "user00001", "Yes-crypt.pw1");
  EXPECT_EQ(good.exit_code, 0) << good.out;
  EXPECT_TRUE(wait_until([&] { return scraped(failure) == failures + 1; }, 10s)) << scrape();
  EXPECT_TRUE(wait_until([&] { return scraped(success) == successes + 1; }, 10s)) << scrape();

  // A pooled provider: the store misses, the pool's workers, its state.
  const std::string misses = "fastid_store_misses_total{provider=\"dir\"}";
  const double missed = scraped(misses);
  ASSERT_TRUE(socket_lookup("user00150")) << "the slow provider's user";
  EXPECT_TRUE(wait_until([&] { return scraped(misses) >= missed + 1; }, 10s)) << scrape();
  const std::string after = scrape();
  EXPECT_EQ(value(after, "fastid_provider_online{provider=\"dir\"}"), 1) << after;
  EXPECT_EQ(value(after, "fastid_provider_front_workers{provider=\"dir\",state=\"online\"}"), 2) << after;
  double workers = 0;
  for (const char* st : {"waiting", "starting", "idle", "busy", "stopping"}) {
    workers += value(after, std::string("fastid_pool_workers{provider=\"dir\",state=\"") + st + "\"}");
  }
  EXPECT_GE(workers, 1) << after;
  EXPECT_GE(value(after, "fastid_store_entries"), 1) << after;
  EXPECT_GE(value(after, "fastid_fastcache_entries{map=\"passwd\"}"), 0) << after;
  EXPECT_GT(value(after, "fastid_connections_accepted_total{listener=\"metrics\"}"), 0) << after;
  EXPECT_GT(value(after, "fastid_connections_accepted_total{listener=\"nss\"}"), asked) << after;
}

TEST_F(MetricsSystemTest, OtherMethodsPathsAndGarbageAreRefusedAndTheConnectionClosed) {
  EXPECT_EQ(raw_http("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(raw_http("HEAD /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(raw_http("GET /status HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(raw_http("GET /metrics/../etc/passwd HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(raw_http(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)).rfind("HTTP/1.1 400 ", 0), 0u)
      << "a TLS hello";
  EXPECT_EQ(raw_http("GET /metrics HTTP/1.1\r\nHost\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(raw_http(std::string(64, '\0')).rfind("HTTP/1.1 400 ", 0), 0u);
  // A head that never ends: cut at the limit, 431, closed.
  std::string big = "GET /metrics HTTP/1.1\r\n";
  while (big.size() < 64 * 1024) big += "X-Filler: " + std::string(100, 'a') + "\r\n";
  EXPECT_EQ(raw_http(big).rfind("HTTP/1.1 431 ", 0), 0u);
  // curl agrees.
  auto post = run("curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST " + url());
  EXPECT_EQ(post.out, "405");
  auto other = run("curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(port_) + "/");
  EXPECT_EQ(other.out, "404");
  // None of it hurt the lookups or the next scrape.
  EXPECT_TRUE(socket_lookup("user00004"));
  EXPECT_EQ(d_->getent("passwd user00004").exit_code, 0);
  EXPECT_GE(scraped("fastid_front_workers"), 2);
}

TEST_F(MetricsSystemTest, ASlowlorisIsClosedAtTheStallTimeoutHoweverItDribbles) {
  int fd = connect_tcp(port_);
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  const std::string head = "GET /metrics HTTP/1.1\r\nX-Slow: ";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  // One byte every 200 ms: each one is progress, none buys time. Were the
  // timer re-armed by each byte, the peer would be served for ever: dribbled
  // for up to 60 s, and the close must come far under that.
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < 60s) {
    closed = closed_within(fd, 200);
    if (!closed) (void)::send(fd, "a", 1, MSG_NOSIGNAL);
    EXPECT_TRUE(socket_lookup("user00005")) << "lookups are answered meanwhile";
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  std::printf("slowloris closed after %.2f s (stall_timeout 2 s)\n", std::chrono::duration<double>(took).count());
  EXPECT_TRUE(closed);
  EXPECT_LT(took, 30s) << "stall_timeout is 2 s";
  EXPECT_GE(took, 1500ms);
}

TEST_F(MetricsSystemTest, AFloodOfIdleConnectionsFromOneAddressIsCappedAndScrapesGoOn) {
  // 40 connections that say nothing: each front worker keeps at most 2 of
  // this address's (max_connections_per_address), the oldest idle ones closed.
  const std::string evicted = "fastid_connections_evicted_total";
  const double evicted_before = scraped(evicted);
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    const int fd = connect_tcp(port_);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // A scrape gets through while they are held, and so do lookups.
  EXPECT_GE(scraped("fastid_front_workers"), 2);
  EXPECT_TRUE(socket_lookup("user00006"));
  // Closed to make room as each newer one came, not by the 2 s stall
  // timeout: counted, as evictions (a stall-timeout close is not one), not
  // timed. Polled: a sibling's figures are up to 500 ms old.
  EXPECT_TRUE(wait_until([&] { return scraped(evicted) >= evicted_before + 36; }, 30s))
      << "at most 2 per front worker may stay; evicted before " << evicted_before << "\n" << scrape();
  int closed = 0;
  for (int fd : fds) closed += closed_within(fd, 30000) ? 1 : 0;
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(closed, 40) << "the ones kept end at the stall timeout";
  EXPECT_TRUE(socket_lookup("user00006"));
}

}  // namespace
}  // namespace fastid::testing
