// A wrong directory setting at start (issue #13, docs/operations.md "Starting
// without the directory"), against a real slapd (tests/support/slapd_fixture.h):
// a base that does not exist, a bind password slapd refuses, a CA file that
// does not verify slapd's certificate. `fastidd --check-config` fails on each
// and says what is wrong; a start logs it as an error and goes on: the files
// provider answers, the directory's names fail "try again" (EAGAIN through
// glibc's nss_query, never "no such user"), and the daemon stays up.
#include <gtest/gtest.h>

#include <string>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

class WrongSettingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { slapd_ = new Slapd({.users = 50, .groups = 5, .tls = true}); }
  static void TearDownTestSuite() {
    delete slapd_;
    slapd_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(slapd_->started()) << slapd_->error(); }

  // A files provider and the directory, with `from` replaced by `to` in the
  // directory's settings.
  std::string config(const Daemon& d, const std::string& from, const std::string& to) const {
    std::string corp = slapd_->provider_toml("schema = \"rfc2307\"\n", /*start_tls=*/true);
    const std::size_t at = corp.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) corp.replace(at, from.size(), to);
    write_file(d.dir() + "/local.passwd", "localsvc:x:5000:5000:Local service:/var/lib/localsvc:/bin/sh\n");
    write_file(d.dir() + "/local.group", "localsvc:x:5000:\n");
    return "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
           "/state\"\n\n[store]\nprobe_interval = \"300ms\"\n\n[fastcache]\npasswd = { enabled = false }\n"
           "group = { enabled = false }\ninitgroups = { enabled = false }\n\n"
           "[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + d.dir() +
           "/local.passwd\"\ngroup = \"" + d.dir() + "/local.group\"\n" + corp;
  }

  // --check-config fails naming `words`; a start goes on, loudly; local names
  // answer, the directory's are "try again".
  void check(const std::string& from, const std::string& to, const std::string& words) {
    Daemon d(1, 1);
    d.write_config(config(d, from, to));
    auto checked = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
    EXPECT_NE(checked.exit_code, 0) << checked.out;
    EXPECT_NE(checked.out.find(words), std::string::npos) << checked.out << "\nwanted: " << words;

    ASSERT_TRUE(d.start()) << "a wrong directory setting must not stop the start:\n" << d.log();
    const std::string log = d.log();
    EXPECT_NE(log.find("error: provider corp is misconfigured"), std::string::npos) << log;
    EXPECT_NE(log.find("STARTING WITHOUT IT"), std::string::npos) << log;
    EXPECT_NE(log.find(words), std::string::npos) << "the log says what is wrong: " << log;
    EXPECT_EQ(log.find(slapd_->bind_password()), std::string::npos) << "a secret in the log";

    auto query = [&](const std::string& args) { return run(d.env() + bin_dir() + "/nss_query " + args + " 2>&1"); };
    auto local = query("passwd localsvc");
    EXPECT_EQ(local.exit_code, 0) << local.out << d.log();
    for (const char* q : {"passwd user00001", "group 200001", "passwd nosuchuser"}) {
      auto r = query(q);
      EXPECT_EQ(r.exit_code, 1) << q << ": " << r.out << d.log();
      EXPECT_NE(r.out.find("Resource temporarily unavailable"), std::string::npos) << q << ": " << r.out;
    }
    EXPECT_EQ(query("passwd localsvc").exit_code, 0) << "the files provider keeps answering";
    EXPECT_EQ(d.stop(SIGTERM), 0) << d.log();
  }

  static Slapd* slapd_;
};
Slapd* WrongSettingTest::slapd_ = nullptr;

TEST_F(WrongSettingTest, ABaseThatDoesNotExist) {
  check("base = \"" + slapd_->base() + "\"", "base = \"dc=wrong,dc=test\"", "base dc=wrong,dc=test does not exist");
}

TEST_F(WrongSettingTest, ABindPasswordTheDirectoryRefuses) {
  check("bind_password_file = \"" + slapd_->bind_password_file() + "\"", "bind_password = \"not-the-password\"",
        "invalid credentials");
}

TEST_F(WrongSettingTest, ACaFileThatDoesNotVerifyTheDirectory) {
  check("tls_ca_file = \"" + slapd_->ca_file() + "\"", "tls_ca_file = \"" + slapd_->wrong_ca_file() + "\"",
        "not trusted by tls_ca_file " + slapd_->wrong_ca_file());
}

}  // namespace
}  // namespace fastid::testing
