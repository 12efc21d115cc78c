// async_lookups (server/ldap_loop_directory.h): an ldap provider's lookups
// searched by the front worker itself, through the real daemon and real glibc
// against a private slapd. What only this mode has is tested here: the
// answers equal the pooled provider's on the same slapd, the lookups really
// are searched in the front worker (its status counters), a hung slapd
// costs the request timeout while the loop keeps answering, and so does a
// slapd that stops in the middle of an answer (half a message, or half a TLS
// record under StartTLS: the connection reads without blocking), and a
// search the socket takes only part of is finished once the server reads
// again, without dropping the connection. Every other behaviour is checked by
// running the LDAP suites again in this mode (the `*_async` ctest entries:
// ldap_system_test, ldap_security_system_test, ldap_maps_system_test,
// store_ldap_system_test, pam_ldap_system_test).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"
#include "support/slapd_fixture.h"
#include "support/stalling_proxy.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool stopped(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'T';
}

class LdapLoopSystemTest : public ::testing::Test {
 protected:
  LdapLoopSystemTest() : slapd_({.schema = "rfc2307bis", .users = 300, .groups = 30}) {}

  // A daemon on the fixture's slapd; the fast cache and the store off, so
  // every lookup is a search.
  std::unique_ptr<Daemon> start(bool async, const std::string& extra = "") {
    auto d = std::make_unique<Daemon>(1, 1);
    d->write_config("[daemon]\nsocket_dir = \"" + d->socket_dir() + "\"\nstate_dir = \"" + d->dir() +
                    "/state\"\nlog_level = \"info\"\n\n[store]\nenabled = false\n\n[fastcache]\n"
                    "passwd = { enabled = false }\ngroup = { enabled = false }\ninitgroups = { enabled = false }\n"
                    "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"" + slapd_.uri() +
                    "\"]\nbase = \"" + slapd_.base() + "\"\nbind_dn = \"" + slapd_.bind_dn() +
                    "\"\nbind_password_file = \"" + slapd_.bind_password_file() +
                    "\"\nschema = \"rfc2307bis\"\nasync_lookups = " + (async ? "true" : "false") + "\n" + extra);
    EXPECT_TRUE(d->start()) << d->log();
    return d;
  }

  std::string query(const Daemon& d, const std::string& args) const {
    return run(d.env() + bin_dir() + "/nss_query " + args + " 2>&1").out;
  }
  // The same with the client's reply deadline at 60 s (FASTID_TIMEOUT_MS), far
  // above the 2 s request timeout the daemon must apply: a lookup that is not
  // ended by the daemon lasts 60 s, not the 5 s default a loaded machine nears.
  std::string patient_query(const Daemon& d, const std::string& args) const {
    return run(d.env() + "FASTID_TIMEOUT_MS=60000 " + bin_dir() + "/nss_query " + args + " 2>&1").out;
  }

  Slapd slapd_;
};

TEST_F(LdapLoopSystemTest, AnswersEqualThePooledProvidersAndAreSearchedInTheFrontWorker) {
  ASSERT_TRUE(slapd_.started()) << slapd_.error();
  auto pooled = start(false);
  auto loop = start(true);
  ASSERT_TRUE(wait_until([&] { return loop->status_value("ldap_loop.corp.state") == "connected"; }))
      << loop->log();
  const long to_pool_before = loop->status_figure("ldap_loop.corp.to_pool");
  int asked = 0;
  for (int i = 1; i <= 300; i += 7) {
    char name[16];
    std::snprintf(name, sizeof name, "user%05d", i);
    for (const std::string& q : {std::string("passwd ") + name, "passwd " + std::to_string(100000 + i),
                                 std::string("groups ") + name}) {
      const std::string want = query(*pooled, q);
      // Not two equal failures: a passwd line, or gids.
      EXPECT_NE(want.find(q.rfind("groups ", 0) == 0 ? " " : ":"), std::string::npos) << q << ": " << want;
      EXPECT_EQ(query(*loop, q), want) << q;
      ++asked;
    }
  }
  for (int g = 1; g <= 30; g += 3) {
    char name[16];
    std::snprintf(name, sizeof name, "group%04d", g);
    const std::string q = std::string("group ") + name;
    EXPECT_EQ(query(*loop, q), query(*pooled, q)) << q;
    ++asked;
  }
  // Names the directory does not have, and one the name rules refuse.
  for (const std::string q : {"passwd nosuchuser", "group nosuchgroup", "passwd 4000000"}) {
    EXPECT_EQ(query(*loop, q), query(*pooled, q)) << q;
    ++asked;
  }
  // Every one of them was answered in the front worker, none by the pool.
  EXPECT_GE(loop->status_figure("ldap_loop.corp.lookups"), asked);
  EXPECT_EQ(loop->status_figure("ldap_loop.corp.to_pool"), to_pool_before);
  EXPECT_GE(loop->status_figure("ldap_loop.corp.searches"), asked);
}

TEST_F(LdapLoopSystemTest, AHungSlapdCostsTheRequestTimeoutAndTheLoopKeepsAnswering) {
  ASSERT_TRUE(slapd_.started()) << slapd_.error();
  auto d = start(true, "network_timeout = \"1s\"\npool = { request_timeout = \"2s\" }\n");
  ASSERT_TRUE(wait_until([&] { return d->status_value("ldap_loop.corp.state") == "connected"; })) << d->log();
  ASSERT_NE(query(*d, "passwd user00001").find("user00001:"), std::string::npos);
  ASSERT_EQ(::kill(slapd_.pid(), SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return stopped(slapd_.pid()); }, 5s));
  // A lookup in flight on the hung connection (its client would wait 60 s)...
  const auto start_time = Clock::now();
  std::string hung;
  double seconds = 0;
  std::thread asker([&] {
    hung = patient_query(*d, "passwd user00002");
    seconds = std::chrono::duration<double>(Clock::now() - start_time).count();
  });
  // ... does not hold the loop: a status reply says the search is
  // outstanding (ordered, not timed: a held loop answers status only after
  // the search ended, when none is outstanding).
  const bool status_meanwhile =
      wait_until([&] { return d->status_value("ldap_loop.corp.outstanding") == "1"; }, 30s);
  asker.join();
  ::kill(slapd_.pid(), SIGCONT);
  EXPECT_TRUE(status_meanwhile) << "status never answered while the search was outstanding";
  EXPECT_EQ(hung.find("user00002:"), std::string::npos) << hung;
  std::printf("hung slapd: lookup failed after %.2f s (request_timeout 2 s, the client's deadline 60 s)\n", seconds);
  // The daemon's request timeout ended it: far under the client's 60 s, and counted.
  EXPECT_LT(seconds, 30.0);
  EXPECT_GE(d->status_figure("ldap_loop.corp.timeouts"), 1);
  // Back: the front worker connects again by itself and answers.
  EXPECT_TRUE(wait_until([&] {
    return query(*d, "passwd user00003").find("user00003:") != std::string::npos &&
           d->status_value("ldap_loop.corp.state") == "connected";
  })) << d->log();
}

TEST_F(LdapLoopSystemTest, IdenticalLookupsInFlightShareOneSearch) {
  ASSERT_TRUE(slapd_.started()) << slapd_.error();
  auto d = start(true, "pool = { request_timeout = \"20s\" }\n");
  ASSERT_TRUE(wait_until([&] { return d->status_value("ldap_loop.corp.state") == "connected"; })) << d->log();
  const long searches_before = d->status_figure("ldap_loop.corp.searches");
  const long open_before = d->status_figure("connections.open");
  ASSERT_EQ(::kill(slapd_.pid(), SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return stopped(slapd_.pid()); }, 5s));
  constexpr int kAskers = 8;
  std::vector<std::string> got(kAskers);
  std::vector<std::thread> askers;
  for (int i = 0; i < kAskers; ++i) askers.emplace_back([&, i] { got[i] = query(*d, "passwd user00007"); });
  // Every asker connected (and so asked) while slapd cannot answer: one
  // search outstanding.
  const bool all_in = wait_until([&] {
    return d->status_figure("connections.open") >= open_before + kAskers && d->status_figure("ldap_loop.corp.outstanding") == 1;
  }, 10s);
  ::kill(slapd_.pid(), SIGCONT);
  for (auto& t : askers) t.join();
  ASSERT_TRUE(all_in) << "connections.open " << d->status_figure("connections.open");
  for (const auto& g : got) EXPECT_NE(g.find("user00007:"), std::string::npos) << g;
  EXPECT_EQ(d->status_figure("ldap_loop.corp.searches"), searches_before + 1);
}

// The config of a daemon whose ldap provider "corp" reaches `slapd` through
// a proxy on `port` with async_lookups, behind a files provider "local"
// (zlocal), the fast cache and the store off, request_timeout 2 s unless told.
// `count` clients, each asking for another absent name of `digits` digits
// (longer names, bigger searches), none reading its answer: their sockets,
// fewer than `count` if one could not connect or send.
std::vector<int> ask_without_reading(const Daemon& d, std::size_t count, int digits) {
  std::vector<int> clients;
  for (std::size_t i = 1; i <= count; ++i) {
    const int fd = connect_unix(d.socket_dir() + "/nss");
    if (fd < 0) break;
    char name[160];
    std::snprintf(name, sizeof name, "absent%0*zu", digits, i);
    proto::Request req;
    req.opcode = proto::Opcode::kGetpwnam;
    req.request_id = static_cast<std::uint32_t>(i);
    req.name = name;
    if (!send_all(fd, proto::encode_request(req))) {
      ::close(fd);
      break;
    }
    clients.push_back(fd);
  }
  return clients;
}

std::string config_through_proxy(const Daemon& d, const Slapd& slapd, int port, const std::string& extra = "",
                                 const std::string& request_timeout = "2s") {
  const std::string dir = d.dir();
  write_file(dir + "/data/local-passwd", "zlocal:x:4002:4002::/home/zlocal:/bin/sh\n");
  write_file(dir + "/data/local-group", "zlocal:x:4002:\n");
  return "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + dir +
         "/state\"\nlog_level = \"info\"\nmax_connections_per_uid = 1024\n\n[store]\nenabled = false\n\n"
         "[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
         "initgroups = { enabled = false }\n\n[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" +
         dir + "/data/local-passwd\"\ngroup = \"" + dir + "/data/local-group\"\n"
         "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"ldap://127.0.0.1:" + std::to_string(port) +
         "/\"]\nbase = \"" + slapd.base() + "\"\nbind_dn = \"" + slapd.bind_dn() + "\"\nbind_password_file = \"" +
         slapd.bind_password_file() + "\"\nschema = \"rfc2307bis\"\nasync_lookups = true\nnetwork_timeout = \"1s\"\n"
         "pool = { request_timeout = \"" + request_timeout + "\" }\n" + extra;
}

// A slapd that reads no more requests (the proxy stops reading, with a small
// receive buffer): the front worker's searches pile up in its socket. Its
// loop must not wait to write one — a files name and status are answered
// while 300 distinct lookups are asked at once, and at most 128 searches
// are outstanding on the connection (the rest go to the pool).
TEST_F(LdapLoopSystemTest, ADirectoryThatReadsNoSearchesDoesNotHoldTheLoop) {
  ASSERT_TRUE(slapd_.started()) << slapd_.error();
  StallingProxy proxy(slapd_.port(), 6s, 2048);
  ASSERT_NE(proxy.port(), 0);
  auto d = std::make_unique<Daemon>(1, 1);
  d->write_config(config_through_proxy(*d, slapd_, proxy.port()));
  ASSERT_TRUE(d->start()) << d->log();
  ASSERT_TRUE(wait_until([&] { return d->status_value("ldap_loop.corp.state") == "connected"; })) << d->log();
  ASSERT_NE(query(*d, "passwd user00001").find("user00001:"), std::string::npos) << d->log();
  proxy.stop_reading_requests();
  constexpr std::size_t kClients = 300;
  const std::vector<int> clients = ask_without_reading(*d, kClients, 26);
  const bool all_sent = clients.size() == kClients;
  const auto files_start = Clock::now();
  const std::string local = patient_query(*d, "passwd zlocal");
  const double files_ms = std::chrono::duration<double, std::milli>(Clock::now() - files_start).count();
  const auto status_start = Clock::now();
  const long outstanding = d->status_figure("ldap_loop.corp.outstanding");
  const double status_ms = std::chrono::duration<double, std::milli>(Clock::now() - status_start).count();
  for (int fd : clients) ::close(fd);
  ASSERT_TRUE(all_sent) << clients.size() << " clients";
  std::printf("directory reading nothing, %zu lookups asked: files name answered in %.0f ms, status in %.0f ms "
              "(%ld searches outstanding on the front worker's connection)\n",
              kClients, files_ms, status_ms, outstanding);
  // Behind the 300 requests in the loop's queue, but not behind a write
  // that would wait for as long as the server reads nothing (for ever: the
  // proxy never reads again, so a held loop answers neither, whatever the
  // clients' deadlines). The times are printed, not judged.
  EXPECT_NE(local.find("zlocal:x:4002:"), std::string::npos) << local;
  // The connection's bound (LdapAsyncConnection::kMaxOutstanding): the rest
  // went to the pool.
  EXPECT_GE(outstanding, 1);
  EXPECT_LE(outstanding, 128);
}

// A slapd slow to read (the proxy stops reading requests for a while, with
// a small receive buffer): the front worker's socket takes only part of a
// search (its send buffer is small on purpose, LdapAsyncConnection::
// kSendBuffer). The loop finishes writing it once the server reads again:
// the connection is not dropped, the lookups asked meanwhile go to the pool,
// and every lookup is answered once the server reads again.
TEST_F(LdapLoopSystemTest, ASearchTheSocketTookOnlyPartOfIsFinishedWhenTheServerReadsAgain) {
  ASSERT_TRUE(slapd_.started()) << slapd_.error();
  StallingProxy proxy(slapd_.port(), 6s, 2048);
  ASSERT_NE(proxy.port(), 0);
  auto d = std::make_unique<Daemon>(1, 1);
  // A request timeout long enough that no search times out before the
  // server reads again (a slow ASan build takes seconds over 300 requests).
  d->write_config(config_through_proxy(*d, slapd_, proxy.port(), "", "30s"));
  ASSERT_TRUE(d->start()) << d->log();
  ASSERT_TRUE(wait_until([&] { return d->status_value("ldap_loop.corp.state") == "connected"; })) << d->log();
  ASSERT_NE(query(*d, "passwd user00001").find("user00001:"), std::string::npos) << d->log();
  proxy.stop_reading_requests();
  constexpr std::size_t kClients = 300;
  const std::vector<int> clients = ask_without_reading(*d, kClients, 120);  // long names: bigger searches
  // The socket is full: a search is partly written and the lookups after it
  // went to the pool, with the connection kept.
  const bool blocked = wait_until([&] { return d->status_figure("ldap_loop.corp.write_waits") >= 1; }, 10s);
  const long outstanding = d->status_figure("ldap_loop.corp.outstanding");
  proxy.resume_reading_requests();
  std::size_t answered = 0;
  for (int fd : clients) {
    if (auto reply = read_reply(fd, 15000)) ++answered;
    ::close(fd);
  }
  ASSERT_EQ(clients.size(), kClients);
  ASSERT_TRUE(blocked) << "no search was left partly written; drops " << d->status_figure("ldap_loop.corp.drops")
                       << "\n" << d->log();
  std::printf("server reading nothing: %ld searches outstanding, %ld lookups to the pool while one was partly "
              "written; %zu of %zu answered once it read again\n",
              outstanding, d->status_figure("ldap_loop.corp.write_waits"), answered, kClients);
  EXPECT_EQ(answered, kClients);
  EXPECT_GE(outstanding, 1);
  // The partly written search and those before it were answered on the
  // connection, which was never dropped nor timed out.
  EXPECT_EQ(d->status_figure("ldap_loop.corp.drops"), 0) << d->log();
  EXPECT_EQ(d->status_figure("ldap_loop.corp.timeouts"), 0);
  EXPECT_EQ(d->status_figure("ldap_loop.corp.connects"), 1);
  EXPECT_GE(d->status_figure("ldap_loop.corp.lookups"), outstanding);
  EXPECT_EQ(d->status_figure("ldap_loop.corp.outstanding"), 0);
  // And it goes on answering.
  const long lookups = d->status_figure("ldap_loop.corp.lookups");
  EXPECT_NE(query(*d, "passwd user00002").find("user00002:"), std::string::npos);
  EXPECT_EQ(d->status_figure("ldap_loop.corp.lookups"), lookups + 1);
}

// A slapd reached through a proxy that cuts an answer in half and holds the
// rest for 120 s (support/stalling_proxy.h): the front worker's connection has
// read half a message (plain) or half a TLS record (StartTLS). Its loop must
// keep answering — a name of the files provider in front of the ldap one,
// and status — and the lookup fail at the request timeout (2 s), not when
// the rest arrives. On a blocking socket the loop waits in the read (under
// TLS, OpenSSL's read of the whole record) for the 120 s: the files name and
// status would fail at their clients' 5 s deadline. Nothing here is timed
// closer than that: the cut lookup's client waits 60 s and the test asserts
// under 30 s (2 s expected); the hold costs nothing when the loop is right.
class LdapLoopStallTest : public ::testing::TestWithParam<bool> {
 protected:
  LdapLoopStallTest() : tls_slapd_({.schema = "rfc2307bis", .users = 20, .groups = 3, .tls = true}) {}
  std::string query(const Daemon& d, const std::string& args) const {
    return run(d.env() + bin_dir() + "/nss_query " + args + " 2>&1").out;
  }
  Slapd tls_slapd_;
};

TEST_P(LdapLoopStallTest, AnAnswerCutInHalfHoldsNeitherTheLoopNorTheLookupBeyondItsTimeout) {
  const bool tls = GetParam();
  ASSERT_TRUE(tls_slapd_.started()) << tls_slapd_.error();
  StallingProxy proxy(tls_slapd_.port(), 120s);
  ASSERT_NE(proxy.port(), 0);
  auto d = std::make_unique<Daemon>(1, 1);
  const std::string dir = d->dir();
  write_file(dir + "/data/local-passwd", "zlocal:x:4002:4002::/home/zlocal:/bin/sh\n");
  write_file(dir + "/data/local-group", "zlocal:x:4002:\n");
  d->write_config("[daemon]\nsocket_dir = \"" + d->socket_dir() + "\"\nstate_dir = \"" + dir +
                  "/state\"\nlog_level = \"info\"\n\n[store]\nenabled = false\n\n[fastcache]\n"
                  "passwd = { enabled = false }\ngroup = { enabled = false }\ninitgroups = { enabled = false }\n"
                  "\n[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + dir +
                  "/data/local-passwd\"\ngroup = \"" + dir + "/data/local-group\"\n"
                  "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"ldap://127.0.0.1:" +
                  std::to_string(proxy.port()) + "/\"]\nbase = \"" + tls_slapd_.base() + "\"\nbind_dn = \"" +
                  tls_slapd_.bind_dn() + "\"\nbind_password_file = \"" + tls_slapd_.bind_password_file() +
                  "\"\nschema = \"rfc2307bis\"\nasync_lookups = true\nnetwork_timeout = \"1s\"\n"
                  "pool = { request_timeout = \"2s\" }\n" +
                  (tls ? "start_tls = true\ntls_ca_file = \"" + tls_slapd_.ca_file() + "\"\n" : std::string()));
  ASSERT_TRUE(d->start()) << d->log();
  ASSERT_TRUE(wait_until([&] { return d->status_value("ldap_loop.corp.state") == "connected"; })) << d->log();
  ASSERT_NE(query(*d, "passwd user00001").find("user00001:"), std::string::npos) << d->log();
  // The provider worker's connection is up too and nothing is on its way:
  // the next request through the proxy is the front worker's search.
  ASSERT_TRUE(wait_until([&] { return proxy.connections() >= 2 && proxy.quiet_for() >= 300ms; }, 10s));

  proxy.stall_next_reply();
  const auto start_time = Clock::now();
  std::string cut;
  double cut_seconds = 0;
  std::thread asker([&] {
    cut = run(d->env() + "FASTID_TIMEOUT_MS=60000 " + bin_dir() + "/nss_query passwd user00002 2>&1").out;
    cut_seconds = std::chrono::duration<double>(Clock::now() - start_time).count();
  });
  const bool was_cut = wait_until([&] { return proxy.stalls() == 1; });
  // While the front worker holds half an answer: status (first: it must
  // come within the search's 2 s), then a files name.
  const auto status_start = Clock::now();
  const std::string outstanding = d->status_value("ldap_loop.corp.outstanding");
  const double status_ms = std::chrono::duration<double, std::milli>(Clock::now() - status_start).count();
  const auto files_start = Clock::now();
  const std::string local = query(*d, "passwd zlocal");
  const double files_ms = std::chrono::duration<double, std::milli>(Clock::now() - files_start).count();
  asker.join();
  ASSERT_TRUE(was_cut) << "the proxy never cut an answer";
  std::printf("%s: answer cut in half for 120 s; files name answered in %.0f ms, status in %.0f ms; the lookup "
              "failed after %.2f s (request_timeout 2 s)\n",
              tls ? "StartTLS" : "plain", files_ms, status_ms, cut_seconds);
  // Answered while the half answer was held (a held loop answers neither
  // within its client's deadline), the search still outstanding.
  EXPECT_NE(local.find("zlocal:x:4002:"), std::string::npos) << local;
  EXPECT_EQ(outstanding, "1");
  EXPECT_EQ(cut.find("user00002:"), std::string::npos) << cut;
  // The request timeout, neither earlier nor the rest's arrival (120 s) or
  // the client's deadline (60 s).
  EXPECT_GE(cut_seconds, 1.5);
  EXPECT_LT(cut_seconds, 30.0);
  EXPECT_GE(d->status_figure("ldap_loop.corp.timeouts"), 1);
  // The rest of the lookups: the pool's connection meanwhile, then a new one.
  EXPECT_TRUE(wait_until([&] {
    return query(*d, "passwd user00003").find("user00003:") != std::string::npos &&
           d->status_value("ldap_loop.corp.state") == "connected";
  })) << d->log();
}

INSTANTIATE_TEST_SUITE_P(PlainAndStartTls, LdapLoopStallTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "StartTls" : "Plain"; });

}  // namespace
}  // namespace fastid::testing
