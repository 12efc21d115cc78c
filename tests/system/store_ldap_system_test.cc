// The store and offline mode in front of a real slapd (tests/ldap/slapd-fixture):
// slapd stopped, started again and SIGKILLed in the middle of loads of
// lookups through glibc. Every entry the loads ask for is in the store (a
// 10,000-lookup load ran before; nss_stress's sequence is fixed) but expired, so
// lookups go to slapd while it answers and to the store while it does not:
// none may fail. The loads go on until every entry has expired once after the
// event, so the test does not depend on how fast a load finishes. Also: fastidd restarted while slapd is down answers what it
// stored, and is back online within the probe interval once slapd returns.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/load_runs.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class StoreLdapTest : public ::testing::Test {
 protected:
  StoreLdapTest() : slapd_({.users = 300, .groups = 30}), d_(1, 1) {}

  void SetUp() override {
    ASSERT_TRUE(slapd_.started()) << slapd_.error();
    d_.write_config(
        "[daemon]\nsocket_dir = \"" + d_.socket_dir() + "\"\nstate_dir = \"" + d_.dir() +
        "/state\"\n\n[store]\nttl = \"1s\"\nrefresh_ahead = \"300ms\"\nprobe_interval = \"300ms\"\n"
        "\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
        "initgroups = { enabled = false }\n\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"" +
        slapd_.uri() + "\"]\nbase = \"" + slapd_.base() + "\"\nbind_dn = \"" + slapd_.bind_dn() +
        "\"\nbind_password_file = \"" + slapd_.bind_password_file() + "\"\nschema = \"rfc2307\"\n");
    ASSERT_TRUE(d_.start()) << d_.log();
    const std::string stress = d_.env() + bin_dir() + "/nss_stress " + slapd_.data_dir() +
                               "/expected/passwd " + slapd_.data_dir() + "/expected/group 1 ";
    load_ = stress + "2000 2>&1";
    auto warm = run(stress + "10000 2>&1");
    ASSERT_EQ(warm.exit_code, 0) << warm.out << d_.log();
    std::this_thread::sleep_for(1200ms);  // every stored entry has expired
  }

  // Loads back to back, with `event` done 100 ms into the first, until every
  // stored entry has expired at least once after the event (ttl 1 s): then
  // lookups have reached the directory in its new state however fast a load
  // finishes (load_runs.h). Reports and checks the counts over all the runs.
  void load_with(const char* what, const std::function<bool()>& event) {
    bool ok_event = false;
    const LoadRuns loads = load_around(load_, [&] { ok_event = event(); }, 1500ms);
    std::printf("slapd %s in the middle of loads: %ld lookups in %d runs of 2,000, %ld ok\n", what,
                loads.lookups, loads.runs, loads.ok);
    EXPECT_TRUE(ok_event) << slapd_.error();
    EXPECT_EQ(loads.lookups, loads.runs * 2000L) << loads.failed_outputs;
    EXPECT_EQ(loads.ok, loads.lookups) << loads.failed_outputs << d_.log();
    EXPECT_EQ(loads.failed_runs, 0) << loads.failed_outputs;
  }

  // Polls `fastid status` until the store's state for the provider is `want`.
  bool state_becomes(const std::string& want, std::chrono::seconds limit) const {
    const auto deadline = Clock::now() + limit;
    while (state() != want && Clock::now() < deadline) std::this_thread::sleep_for(100ms);
    return state() == want;
  }

  std::string state() const {
    auto r = run("FASTID_SOCKET_DIR=" + d_.socket_dir() + " " + bin_dir() + "/fastid status 2>&1");
    auto at = r.out.find("store.corp.state");
    if (at == std::string::npos) return "";
    std::istringstream in(r.out.substr(at));
    std::string k, v;
    in >> k >> v;
    return v;
  }

  Slapd slapd_;
  Daemon d_;
  std::string load_;
};

TEST_F(StoreLdapTest, SlapdStoppedThenStartedThenKilledInTheMiddleOfLoads) {
  load_with("stopped", [&] { return slapd_.stop(); });
  EXPECT_TRUE(state_becomes("offline", 10s)) << state() << d_.log();
  load_with("started again", [&] { return slapd_.restart(); });
  EXPECT_TRUE(state_becomes("online", 15s)) << state() << d_.log();
  load_with("SIGKILLed", [&] { return slapd_.kill(); });
}

TEST_F(StoreLdapTest, RestartedWhileSlapdIsDownAnswersStoredEntriesThenComesBackOnline) {
  ASSERT_TRUE(slapd_.stop());
  d_.stop(SIGTERM);
  // A daemon whose store never saw this directory refuses to start: an
  // unreachable URI could as well be a wrong one.
  Daemon fresh(1, 1);
  std::string config = read_file(d_.config_path());
  for (std::string from : {d_.socket_dir(), d_.dir() + "/state"}) {
    const std::string to = from == d_.socket_dir() ? fresh.socket_dir() : fresh.dir() + "/state";
    config.replace(config.find(from), from.size(), to);
  }
  fresh.write_config(config);
  EXPECT_FALSE(fresh.start());
  EXPECT_NE(fresh.log().find("Can't contact LDAP server"), std::string::npos) << fresh.log();
  // The one that served it starts, offline, from its store.
  ASSERT_TRUE(d_.start()) << d_.log();
  EXPECT_NE(d_.log().find("cannot be reached at start"), std::string::npos) << d_.log();
  auto stored = run(d_.env() + bin_dir() + "/nss_query passwd user00001 2>&1");
  EXPECT_EQ(stored.exit_code, 0) << stored.out << d_.log();
  auto unknown = run(d_.env() + bin_dir() + "/nss_query passwd nosuchuser 2>&1");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("Resource temporarily unavailable"), std::string::npos) << unknown.out;
  const auto back = Clock::now();
  ASSERT_TRUE(slapd_.restart()) << slapd_.error();
  while (state() != "online" && Clock::now() - back < 20s) std::this_thread::sleep_for(100ms);
  const double took = std::chrono::duration<double>(Clock::now() - back).count();
  std::printf("back online %.1f s after slapd answered again (probe_interval 300ms)\n", took);
  EXPECT_LT(took, 15.0) << d_.log();
  auto now_known = run(d_.env() + bin_dir() + "/nss_query passwd nosuchuser 2>&1");
  EXPECT_EQ(now_known.exit_code, 2) << now_known.out;  // "no such user" again
}

}  // namespace
}  // namespace fastid::testing
