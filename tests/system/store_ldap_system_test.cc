// The store and offline mode in front of a real slapd (tests/ldap/slapd-fixture):
// slapd stopped, started again and SIGKILLed in the middle of loads of
// lookups through glibc. Every entry the loads ask for is in the store (a
// 10,000-lookup load ran before; nss_stress's sequence is fixed) but expired, so
// lookups go to slapd while it answers and to the store while it does not:
// none may fail. The loads go on until every entry has expired once after the
// event, so the test does not depend on how fast a load finishes. Also: fastidd restarted while slapd is down answers what it
// stored, and is back online within the probe interval once slapd returns;
// and a node that boots while slapd is down, with an empty store, starts,
// serves its files, answers slapd's names "try again" and comes online
// by itself (ColdStartLdapTest). The fault matrix (fault_matrix_system_test,
// docs/reliability.md) refers to these for the rows they prove.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/load_runs.h"
#include "support/slapd_fixture.h"
#include "support/stored_daemon.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class StoreLdapTest : public ::testing::Test {
 protected:
  StoreLdapTest() : slapd_({.users = 300, .groups = 30}), d_(1, 1) {}

  void SetUp() override {
    ASSERT_TRUE(slapd_.started()) << slapd_.error();
    d_.write_config(stored_daemon_config(
        d_, "ttl = \"1s\"\nrefresh_ahead = \"300ms\"\nprobe_interval = \"300ms\"\n",
        "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\n" + ldap_mode_keys() + "uri = [\"" + slapd_.uri() +
            "\"]\nbase = \"" + slapd_.base() + "\"\nbind_dn = \"" + slapd_.bind_dn() + "\"\nbind_password_file = \"" +
            slapd_.bind_password_file() + "\"\nschema = \"rfc2307\"\n"));
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

  std::string state() const { return store_state(d_); }

  Slapd slapd_;
  Daemon d_;
  std::string load_;
};

TEST_F(StoreLdapTest, SlapdStoppedThenStartedThenKilledInTheMiddleOfLoads) {
  load_with("stopped", [&] { return slapd_.stop(); });
  EXPECT_TRUE(state_becomes("offline", 60s)) << state() << d_.log();
  load_with("started again", [&] { return slapd_.restart(); });
  EXPECT_TRUE(state_becomes("online", 60s)) << state() << d_.log();
  load_with("SIGKILLed", [&] { return slapd_.kill(); });
}

TEST_F(StoreLdapTest, RestartedWhileSlapdIsDownAnswersStoredEntriesThenComesBackOnline) {
  ASSERT_TRUE(slapd_.stop());
  d_.stop(SIGTERM);
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
  // Polled: the probe (every 300 ms) brings it back; the 60 s limit only
  // bounds a failure (a directory never probed again stays offline).
  const bool online = state_becomes("online", 60s);
  const double took = std::chrono::duration<double>(Clock::now() - back).count();
  std::printf("back online %.1f s after slapd answered again (probe_interval 300ms)\n", took);
  EXPECT_TRUE(online) << state() << d_.log();
  auto now_known = run(d_.env() + bin_dir() + "/nss_query passwd nosuchuser 2>&1");
  EXPECT_EQ(now_known.exit_code, 2) << now_known.out;  // "no such user" again
}


// A stateless node at boot: slapd is down and the store has never seen it.
// fastidd starts anyway (logged loudly), its files provider answers, the
// directory's names fail as "try again" (EAGAIN through glibc, never "no such
// user"), and it is online, answering them, once slapd answers.
class ColdStartLdapTest : public ::testing::Test {
 protected:
  ColdStartLdapTest() : slapd_({.users = 50, .groups = 5}), d_(1, 1) {}

  std::string config(bool store) const {
    return "[daemon]\nsocket_dir = \"" + d_.socket_dir() + "\"\nstate_dir = \"" + d_.dir() +
           "/state\"\n\n[store]\nenabled = " + (store ? "true" : "false") +
           "\nprobe_interval = \"300ms\"\n\n[fastcache]\npasswd = { enabled = false }\n"
           "group = { enabled = false }\ninitgroups = { enabled = false }\n\n"
           "[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + d_.dir() +
           "/local.passwd\"\ngroup = \"" + d_.dir() + "/local.group\"\n\n"
           "[[provider]]\nname = \"corp\"\ntype = \"ldap\"\n" + ldap_mode_keys() + "uri = [\"" + slapd_.uri() + "\"]\nbase = \"" +
           slapd_.base() + "\"\nbind_dn = \"" + slapd_.bind_dn() + "\"\nbind_password_file = \"" +
           slapd_.bind_password_file() + "\"\nschema = \"rfc2307\"\n";
  }

  void SetUp() override {
    ASSERT_TRUE(slapd_.started()) << slapd_.error();
    write_file(d_.dir() + "/local.passwd", "localsvc:x:5000:5000:Local service:/var/lib/localsvc:/bin/sh\n");
    write_file(d_.dir() + "/local.group", "localsvc:x:5000:\n");
    ASSERT_TRUE(slapd_.stop());
  }

  CommandResult query(const std::string& args) const {
    return run(d_.env() + bin_dir() + "/nss_query " + args + " 2>&1");
  }
  std::string state() const { return store_state(d_); }

  Slapd slapd_;
  Daemon d_;
};

TEST_F(ColdStartLdapTest, StartsWithTheDirectoryDownAndAnEmptyStoreThenComesOnlineByItself) {
  d_.write_config(config(true));
  // --check-config still says the directory cannot be reached.
  auto check = run(bin_dir() + "/fastidd --check-config --config " + d_.config_path() + " 2>&1");
  EXPECT_NE(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("Can't contact LDAP server"), std::string::npos) << check.out;

  ASSERT_TRUE(d_.start()) << d_.log();
  const std::string log = d_.log();
  EXPECT_NE(log.find("provider corp cannot be reached at start"), std::string::npos) << log;
  EXPECT_NE(log.find("starting without it (the store holds nothing of it)"), std::string::npos) << log;
  EXPECT_NE(log.find("error: provider corp cannot be reached"), std::string::npos) << "logged as an error: " << log;

  auto local = query("passwd localsvc");
  EXPECT_EQ(local.exit_code, 0) << local.out << d_.log();
  for (const char* q : {"passwd user00001", "group 200001", "passwd user00001"}) {
    auto r = query(q);
    EXPECT_EQ(r.exit_code, 1) << q << ": " << r.out;
    EXPECT_NE(r.out.find("Resource temporarily unavailable"), std::string::npos) << q << ": " << r.out;
  }
  EXPECT_TRUE(wait_until([&] { return state() == "offline"; })) << state() << d_.log();
  EXPECT_NE(d_.log().find("provider corp is offline"), std::string::npos) << d_.log();
  EXPECT_EQ(query("passwd localsvc").exit_code, 0) << "files keep answering while corp is offline";

  ASSERT_TRUE(slapd_.restart()) << slapd_.error();
  EXPECT_TRUE(wait_until([&] { return state() == "online"; })) << state() << d_.log();
  auto known = query("passwd user00001");
  EXPECT_EQ(known.exit_code, 0) << known.out << d_.log();
  EXPECT_NE(known.out.find("user00001:"), std::string::npos) << known.out;
  auto unknown = query("passwd nosuchuser");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;  // "no such user" again, from the directory
  EXPECT_NE(d_.log().find("provider corp is back online"), std::string::npos) << d_.log();
}

TEST_F(ColdStartLdapTest, WithoutAStoreItStartsToo) {
  d_.write_config(config(false));
  ASSERT_TRUE(d_.start()) << d_.log();
  EXPECT_NE(d_.log().find("[store] is disabled"), std::string::npos) << d_.log();
  EXPECT_EQ(query("passwd localsvc").exit_code, 0);
  auto down = query("passwd user00002");
  EXPECT_EQ(down.exit_code, 1) << down.out;
  EXPECT_NE(down.out.find("Resource temporarily unavailable"), std::string::npos) << down.out;
  ASSERT_TRUE(slapd_.restart()) << slapd_.error();
  EXPECT_TRUE(wait_until([&] { return query("passwd user00002").exit_code == 0; })) << d_.log();
}

}  // namespace
}  // namespace fastid::testing
