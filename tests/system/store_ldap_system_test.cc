// The store and offline mode in front of a real slapd (tests/ldap/slapd-fixture):
// slapd stopped, started again and SIGKILLed in the middle of a load of 10,000
// lookups through glibc. Every entry the load asks for is in the store (an
// identical load ran before; nss_stress's sequence is fixed) but expired, so
// lookups go to slapd while it answers and to the store while it does not:
// none may fail. Also: fastidd restarted while slapd is down answers what it
// stored, and is back online within the probe interval once slapd returns.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include "daemon_fixture.h"
#include "slapd_fixture.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long field(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(name + "=([0-9]+)"))) return -1;
  return std::stol(m[1]);
}

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
    load_ = d_.env() + bin_dir() + "/nss_stress " + slapd_.data_dir() + "/expected/passwd " +
            slapd_.data_dir() + "/expected/group 1 10000 2>&1";
    auto warm = run(load_);
    ASSERT_EQ(warm.exit_code, 0) << warm.out << d_.log();
    std::this_thread::sleep_for(1200ms);  // every stored entry has expired
  }

  // The load, with `event` done 100 ms into it; reports and checks the counts.
  void load_with(const char* what, const std::function<bool()>& event) {
    CommandResult r;
    std::atomic<bool> done{false};
    std::thread loader([&] {
      r = run(load_);
      done = true;
    });
    std::this_thread::sleep_for(100ms);
    const bool during = !done;
    const bool ok = event();
    loader.join();
    std::printf("slapd %s in the middle of 10,000 lookups: %s", what, r.out.c_str());
    EXPECT_TRUE(ok) << slapd_.error();
    EXPECT_TRUE(during) << "the load ended before slapd was " << what;
    EXPECT_EQ(field(r.out, "lookups"), 10000) << r.out;
    EXPECT_EQ(field(r.out, "ok"), 10000) << r.out << d_.log();
    EXPECT_EQ(r.exit_code, 0) << r.out;
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
  EXPECT_EQ(state(), "offline");
  std::this_thread::sleep_for(1200ms);
  load_with("started again", [&] { return slapd_.restart(); });
  const auto deadline = Clock::now() + 15s;
  while (state() != "online" && Clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(state(), "online") << d_.log();
  std::this_thread::sleep_for(1200ms);
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
