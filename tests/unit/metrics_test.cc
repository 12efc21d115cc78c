// The metrics listener's pure pieces: the HTTP request head reader, the
// Prometheus text writer, the per-worker snapshot and the exposition made of
// several front workers' snapshots, and the gate's row for the scrape.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "server/gate.h"
#include "server/http_request.h"
#include "server/lookup_metrics.h"
#include "server/metrics_exposition.h"
#include "server/prometheus_text.h"

using namespace fastid::server;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

HttpParse parse(std::string_view bytes, HttpRequestHead* head = nullptr, std::size_t limit = 4096) {
  HttpRequestHead scratch;
  return parse_http_request_head(bytes, limit, head ? head : &scratch);
}

// "name{labels}" -> value, of every sample line; comment lines checked for shape.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "every line ends in a newline";
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    const std::size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

}  // namespace

TEST(HttpRequestTest, AScrapersRequestIsRead) {
  HttpRequestHead head;
  EXPECT_EQ(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n", &head), HttpParse::kDone);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.path, "/metrics");
  EXPECT_EQ(parse("GET /metrics?name[]=x HTTP/1.0\n\n", &head), HttpParse::kDone);
  EXPECT_EQ(head.path, "/metrics");
  EXPECT_EQ(head.target, "/metrics?name[]=x");
}

TEST(HttpRequestTest, AHeadComingInPiecesIsIncompleteUntilItsBlankLine) {
  const std::string full = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(parse(full.substr(0, n)), HttpParse::kIncomplete) << n;
  }
  EXPECT_EQ(parse(full), HttpParse::kDone);
}

TEST(HttpRequestTest, GarbageIsToldAtOnceNotAfterTheLimit) {
  EXPECT_EQ(parse("\x16\x03\x01\x02"), HttpParse::kBad) << "a TLS hello";
  EXPECT_EQ(parse("get /metrics HTTP/1.1\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse(std::string("G\0T /metrics HTTP/1.1\r\n\r\n", 25)), HttpParse::kBad);
  EXPECT_EQ(parse("GET /metrics HTTP/2.0\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse("GET /metrics\r\n\r\n"), HttpParse::kBad) << "HTTP/0.9";
  EXPECT_EQ(parse("GET  /metrics HTTP/1.1\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse("GET /met rics HTTP/1.1\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse("GET /metrics HTTP/1.1\r\nX: a\x01" "b\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse("GET /m\xff HTTP/1.1\r\n\r\n"), HttpParse::kBad);
  EXPECT_EQ(parse(std::string(40, 'A') + " / HTTP/1.1\r\n\r\n"), HttpParse::kBad) << "a method that long";
  EXPECT_EQ(parse("GET /" + std::string(2000, 'a')), HttpParse::kBad) << "a request line with no end in sight";
}

TEST(HttpRequestTest, AHeadPastTheLimitIsTooLargeAndNothingPastItIsRead) {
  std::string big = "GET /metrics HTTP/1.1\r\n";
  while (big.size() < 5000) big += "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  EXPECT_EQ(parse(big, nullptr, 4096), HttpParse::kTooLarge);
  // The blank line past the limit does not count.
  EXPECT_EQ(parse(big + "\r\n", nullptr, 4096), HttpParse::kTooLarge);
  std::string many = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many += "A: b\r\n";
  EXPECT_EQ(parse(many + "\r\n", nullptr, 100000), HttpParse::kBad) << "more header lines than kHttpMaxHeaders";
}

// Random heads and mutations of a real one (run under ASan too): every input
// gets a verdict, nothing is read past the limit, a verdict never changes
// once more bytes come (a head once bad stays bad).
TEST(HttpRequestTest, RandomAndMutatedHeadsAlwaysGetAVerdictWithinTheLimit) {
  std::uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  const std::string real = "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(next() % 300);
      for (char& c : bytes) c = static_cast<char>(next());
    } else {
      bytes = real;
      for (int m = 0; m < 1 + static_cast<int>(next() % 4); ++m) bytes[next() % bytes.size()] = static_cast<char>(next());
    }
    const std::size_t limit = 64 + next() % 256;
    HttpRequestHead head;
    const HttpParse whole = parse_http_request_head(bytes, limit, &head);
    if (whole == HttpParse::kDone) {
      EXPECT_LE(head.method.size(), kHttpMaxMethod);
      EXPECT_LE(head.target.size(), kHttpMaxTarget);
      EXPECT_EQ(head.target.rfind(head.path, 0), 0u);
    }
    // A prefix that was already bad says so at once: the full head agrees.
    const std::string prefix = bytes.substr(0, bytes.size() / 2);
    HttpRequestHead scratch;
    if (parse_http_request_head(prefix, limit, &scratch) == HttpParse::kBad) {
      EXPECT_EQ(whole, HttpParse::kBad) << i;
    }
  }
}

TEST(HttpRequestTest, TheResponseSaysItsLengthAndCloses) {
  const std::string r = http_response(405, "Method Not Allowed", "text/plain", "only GET\n", "Allow: GET\r\n");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(r, HasSubstr("Content-Length: 9\r\n"));
  EXPECT_THAT(r, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(r, HasSubstr("Allow: GET\r\n\r\nonly GET\n"));
}

TEST(PrometheusTextTest, FamiliesAndSamplesAreWrittenInTheTextFormat) {
  PrometheusText out;
  out.family("fastid_x_total", "counter", "Things.\nWith a \\ newline.");
  out.sample("fastid_x_total", {{"provider", "corp"}, {"kind", "a"}}, std::uint64_t{42});
  out.sample("fastid_x_total", {}, 0.25);
  EXPECT_EQ(out.text(),
            "# HELP fastid_x_total Things.\\nWith a \\\\ newline.\n"
            "# TYPE fastid_x_total counter\n"
            "fastid_x_total{provider=\"corp\",kind=\"a\"} 42\n"
            "fastid_x_total 0.25\n");
}

TEST(PrometheusTextTest, LabelValuesAreEscaped) {
  EXPECT_EQ(PrometheusText::escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  PrometheusText out;
  out.sample("m", {{"l", "x\"} 1\nevil 2"}}, std::uint64_t{1});
  EXPECT_EQ(out.text(), "m{l=\"x\\\"} 1\\nevil 2\"} 1\n") << "a label value cannot start a sample of its own";
}

TEST(LookupMetricsTest, TheBucketLabelsSayTheBounds) {
  for (std::size_t i = 0; i < kLatencyBoundsUs.size(); ++i) {
    EXPECT_DOUBLE_EQ(std::stod(kLatencyBoundsLabel[i]) * 1e6, static_cast<double>(kLatencyBoundsUs[i])) << i;
  }
}

TEST(MetricsSnapshotTest, FiguresAndStatesAreKeptTextIsLeftOut) {
  StatusItems items = {{"requests", "12"},
                       {"config", "/etc/fastid/fastid.toml"},
                       {"store.corp.state", "offline"},
                       {"store.corp.offline_cause", "ldap://x: connection refused"},
                       {"pool.corp.worker.3", "pid 77 busy queue 2 served 5 uptime 3s"},
                       {"pool.corp.worker.4", "pid 78 idle queue 0 served 1 uptime 3s"},
                       {"pool.corp.worker.5", "pid 79 idle queue 0 served 1 uptime 3s"},
                       {"evil\tname", "1"},
                       {"log.level", "info"}};
  const std::string text = encode_metrics_snapshot(items);
  std::map<std::string, std::string> back;
  for (auto& [k, v] : decode_metrics_snapshot(text)) back[k] = v;
  EXPECT_EQ(back["requests"], "12");
  EXPECT_EQ(back["store.corp.state"], "offline");
  EXPECT_EQ(back["pool.corp.state.busy"], "1");
  EXPECT_EQ(back["pool.corp.state.idle"], "2");
  EXPECT_EQ(back.count("config"), 0u);
  EXPECT_EQ(back.count("store.corp.offline_cause"), 0u);
  EXPECT_EQ(back.count("log.level"), 0u);
  EXPECT_EQ(back.count("evil\tname"), 0u);
  EXPECT_EQ(back.size(), 4u);
}

TEST(MetricsSnapshotTest, ASnapshotNeverOutgrowsItsLimitAndSaysSo) {
  StatusItems items;
  for (int i = 0; i < 5000; ++i) items.emplace_back("store.p" + std::to_string(i) + ".hits", "123456");
  const std::string text = encode_metrics_snapshot(items, 4096);
  EXPECT_LE(text.size(), 4096u);
  EXPECT_THAT(text, HasSubstr("metrics.truncated\t1\n"));
  EXPECT_THAT(render_metrics(std::vector<StatusItems>{decode_metrics_snapshot(text)}),
              HasSubstr("fastid_metrics_snapshot_truncated 1\n"));
}

TEST(MetricsExpositionTest, EveryFrontWorkersFiguresAreSummedAndSharedOnesTakenOnce) {
  LookupMetrics a, b;
  a.record(fastid::model::Kind::kUserByName, LookupResult::kFound, std::chrono::microseconds(80));
  a.record(fastid::model::Kind::kUserByName, LookupResult::kNotFound, std::chrono::milliseconds(3));
  b.record(fastid::model::Kind::kUserByName, LookupResult::kFound, std::chrono::seconds(20));
  b.record(fastid::model::Kind::kGroupByGid, LookupResult::kUnavailable, std::chrono::microseconds(10));
  StatusItems w0 = a.items(), w1 = b.items();
  for (StatusItems* w : {&w0, &w1}) {
    w->emplace_back("requests", "10");
    w->emplace_back("connections.open.nss", "3");
    w->emplace_back("connections.accepted.metrics", "2");
    w->emplace_back("store.entries", "500");  // one LMDB file: the same for both
    w->emplace_back("store.corp.hits", "7");
    w->emplace_back("store.corp.misses", "1");
    w->emplace_back("pool.corp.queued", "1");
    w->emplace_back("pool.corp.state.idle", "2");
    w->emplace_back("fastcache.passwd.entries", "40");
    w->emplace_back("pam.successes", "4");
    w->emplace_back("pam.failures", "1");
    w->emplace_back("pam.lockouts", "1");  // the shared lockout table
    w->emplace_back("gate.refused.not_metrics", "1");
  }
  w0.emplace_back("store.corp.state", "online");
  w1.emplace_back("store.corp.state", "offline");
  w0.emplace_back("loop.longest_turn_us", "2500");
  w1.emplace_back("loop.longest_turn_us", "17000");  // the worst worker's turn, not a sum
  w0.emplace_back("loop.longest_turn_cpu_us", "2500");
  const std::vector<StatusItems> workers = {decode_metrics_snapshot(encode_metrics_snapshot(w0)),
                                            decode_metrics_snapshot(encode_metrics_snapshot(w1))};
  const std::string text = render_metrics(workers);
  auto s = samples(text);
  EXPECT_EQ(s["fastid_front_workers"], "2");
  EXPECT_EQ(s["fastid_requests_total"], "20");
  EXPECT_EQ(s["fastid_lookups_total{kind=\"user_by_name\",result=\"found\"}"], "2");
  EXPECT_EQ(s["fastid_lookups_total{kind=\"user_by_name\",result=\"not_found\"}"], "1");
  EXPECT_EQ(s["fastid_lookups_total{kind=\"group_by_gid\",result=\"unavailable\"}"], "1");
  EXPECT_EQ(s["fastid_lookups_total{kind=\"ssh_keys\",result=\"found\"}"], "0");
  // Cumulative buckets: 80 us falls in le=0.0001, 3 ms in le=0.005, 20 s past every bound.
  EXPECT_EQ(s["fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"0.00005\"}"], "0");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"0.0001\"}"], "1");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"0.005\"}"], "2");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"10\"}"], "2");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_bucket{kind=\"user_by_name\",le=\"+Inf\"}"], "3");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_count{kind=\"user_by_name\"}"], "3");
  EXPECT_EQ(s["fastid_lookup_duration_seconds_sum{kind=\"user_by_name\"}"], "20.00308");
  EXPECT_EQ(s["fastid_connections_open{listener=\"nss\"}"], "6");
  EXPECT_EQ(s["fastid_connections_accepted_total{listener=\"metrics\"}"], "4");
  EXPECT_EQ(s["fastid_connections_open{listener=\"pam\"}"], "0") << "every listener class has its series";
  EXPECT_EQ(s["fastid_store_entries"], "500") << "the shared store is counted once";
  EXPECT_EQ(s["fastid_store_hits_total{provider=\"corp\"}"], "14");
  EXPECT_EQ(s["fastid_pool_queue_length{provider=\"corp\"}"], "2");
  EXPECT_EQ(s["fastid_pool_workers{provider=\"corp\",state=\"idle\"}"], "4");
  EXPECT_EQ(s["fastid_pool_workers{provider=\"corp\",state=\"busy\"}"], "0");
  EXPECT_EQ(s["fastid_fastcache_entries{map=\"passwd\"}"], "40");
  EXPECT_EQ(s["fastid_pam_authentications_total{result=\"success\"}"], "8");
  EXPECT_EQ(s["fastid_pam_authentications_total{result=\"failure\"}"], "2");
  EXPECT_EQ(s["fastid_pam_lockouts_total"], "1");
  EXPECT_EQ(s["fastid_gate_refused_total{reason=\"not_metrics\"}"], "2");
  EXPECT_EQ(s["fastid_provider_front_workers{provider=\"corp\",state=\"online\"}"], "1");
  EXPECT_EQ(s["fastid_provider_front_workers{provider=\"corp\",state=\"offline\"}"], "1");
  EXPECT_EQ(s["fastid_provider_online{provider=\"corp\"}"], "0") << "one front worker sees it offline";
  EXPECT_EQ(s["fastid_loop_longest_turn_seconds"], "0.017");
  EXPECT_EQ(s["fastid_loop_longest_turn_cpu_seconds"], "0.0025");
  EXPECT_EQ(s["fastid_loop_longest_turn_recent_seconds"], "0");
  EXPECT_THAT(text, HasSubstr("# TYPE fastid_lookup_duration_seconds histogram\n"));
  // Each family is declared once.
  std::map<std::string, int> types;
  std::size_t pos = 0;
  while ((pos = text.find("# TYPE ", pos)) != std::string::npos) {
    const std::size_t sp = text.find(' ', pos + 7);
    ++types[text.substr(pos + 7, sp - pos - 7)];
    pos = sp;
  }
  for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
}

TEST(MetricsExpositionTest, AProviderNameWithDotsKeepsItsDots) {
  StatusItems w = {{"store.corp.example.misses", "3"}, {"store.corp.example.state", "online"}};
  auto s = samples(render_metrics(std::vector<StatusItems>{w}));
  EXPECT_EQ(s["fastid_store_misses_total{provider=\"corp.example\"}"], "3");
  EXPECT_EQ(s["fastid_provider_online{provider=\"corp.example\"}"], "1");
}

TEST(MetricsGateTest, TheMetricsListenerTakesTheScrapeOnlyAndTheScrapeNothingElse) {
  EXPECT_EQ(gate_verdict(ListenerClass::kMetrics, false, Route::kMetrics), Rejection::kNone);
  for (std::uint32_t o = 0; o <= 0xFFFF; ++o) {
    EXPECT_EQ(gate_verdict(ListenerClass::kMetrics, false, static_cast<std::uint16_t>(o)), Rejection::kNotMetrics)
        << "opcode " << o << ": no wire request on the metrics listener";
  }
  for (std::size_t c = 0; c < kListenerClasses; ++c) {
    const auto cls = static_cast<ListenerClass>(c);
    if (cls == ListenerClass::kMetrics) continue;
    EXPECT_NE(gate_verdict(cls, true, Route::kMetrics), Rejection::kNone) << listener_class_name(cls);
  }
  Gate gate;
  EXPECT_EQ(gate.check(ListenerClass::kMetrics, false, std::uint16_t{0x0002}), Rejection::kNotMetrics);
  EXPECT_EQ(gate.count(Rejection::kNotMetrics), 1u);
  EXPECT_STREQ(rejection_name(Rejection::kNotMetrics), "not_metrics");
  EXPECT_STREQ(listener_class_name(ListenerClass::kMetrics), "metrics");
}
