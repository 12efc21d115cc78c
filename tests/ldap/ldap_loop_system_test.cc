// async_lookups (server/ldap_loop_directory.h): an ldap provider's lookups
// searched by the front worker itself, through the real daemon and real glibc
// against a private slapd. What only this mode has is tested here: the
// answers equal the pooled provider's on the same slapd, the lookups really
// are searched in the front worker (its status counters), and a hung slapd
// costs the request timeout while the loop keeps answering. Every other
// behaviour is checked by running the LDAP suites again in this mode (the
// `*_async` ctest entries: ldap_system_test, ldap_security_system_test,
// store_ldap_system_test).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

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
  // A lookup in flight on the hung connection...
  const auto start_time = Clock::now();
  std::string hung;
  std::thread asker([&] { hung = query(*d, "passwd user00002"); });
  // ... does not hold the loop: status is answered meanwhile.
  std::this_thread::sleep_for(200ms);  // the lookup is waiting for slapd by now (not a timing assertion)
  const auto status_start = Clock::now();
  const std::string state = d->status_value("ldap_loop.corp.outstanding");
  const double status_ms = std::chrono::duration<double, std::milli>(Clock::now() - status_start).count();
  asker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start_time).count();
  ::kill(slapd_.pid(), SIGCONT);
  EXPECT_FALSE(state.empty()) << "status not answered while a search was outstanding";
  EXPECT_EQ(hung.find("user00002:"), std::string::npos) << hung;
  std::printf("hung slapd: lookup failed after %.2f s (request_timeout 2 s); status answered in %.0f ms meanwhile\n",
              seconds, status_ms);
  // The request timeout, not the client's 5 s deadline nor a hang.
  EXPECT_LT(seconds, 4.5);
  EXPECT_LT(status_ms, 1500.0);
  EXPECT_GE(d->status_figure("ldap_loop.corp.timeouts"), 1);
  // Back: the front worker connects again by itself and answers.
  EXPECT_TRUE(wait_until([&] {
    return query(*d, "passwd user00003").find("user00003:") != std::string::npos &&
           d->status_value("ldap_loop.corp.state") == "connected";
  })) << d->log();
}

}  // namespace
}  // namespace fastid::testing
