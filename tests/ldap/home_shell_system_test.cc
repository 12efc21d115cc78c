// Home and shell rules (issue #16) through real glibc (`getent -s fastid`)
// and through the TCP listener (`fastid --server`): the same record, from the
// directory, the store and the fast cache. An LDAP provider with
// override_homedir "/srv/%d/%u", allowed_shells and shell_fallback, and a
// files provider with fallback_homedir and vetoed_shells. The attack: a
// directory entry whose name would walk its home out of the template
// ("x/../../etc", "..") is refused, never served.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"
#include "support/slapd_suite.h"

namespace fastid::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

class HomeShellTest : public SlapdDaemonSuite<HomeShellTest> {
 protected:
  static void SetUpTestSuite() {
    slapd_ = new Slapd(Slapd::Options{.users = 20, .groups = 5});
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    const std::string base = slapd_->base();
    std::string ldif;
    int uid = 100080;
    for (const auto& [name, shell] : {std::pair{"zshuser", "/bin/zsh"}, std::pair{"bashuser", "/bin/bash"},
                                      std::pair{"x/../../etc", "/bin/bash"}, std::pair{"..", "/bin/bash"}}) {
      ldif += "dn: uid=" + std::string(name) + ",ou=people," + base +
              "\nchangetype: add\nobjectClass: account\nobjectClass: posixAccount\nuid: " + name + "\ncn: " +
              name + "\nuidNumber: " + std::to_string(uid++) + "\ngidNumber: 200001\nhomeDirectory: /home/" +
              "anything\nloginShell: " + shell + "\n\n";
    }
    ASSERT_TRUE(slapd_->ldapmodify(ldif));
    daemon_ = new Daemon(1, 1);
    port_ = free_port();
    const std::string d = daemon_->dir();
    write_file(d + "/data/local-passwd",
               "nohome:x:4001:4001:::/bin/bash\nzlocal:x:4002:4002::/home/zlocal:/bin/zsh\n");
    write_file(d + "/data/local-group", "nohome:x:4001:\n");
    daemon_->write_config(
        daemon_section() + "\n[listen]\ntcp = [\"127.0.0.1:" + std::to_string(port_) + "\"]\n" +
        "\n[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + d + "/data/local-passwd\"\ngroup = \"" +
        d + "/data/local-group\"\nfallback_homedir = \"/home/fallback/%u\"\nvetoed_shells = [\"/bin/zsh\"]\n" +
        "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\nuri = [\"" + slapd_->uri() + "\"]\nbase = \"" + base +
        "\"\nbind_dn = \"" + slapd_->bind_dn() + "\"\nbind_password_file = \"" + slapd_->bind_password_file() +
        "\"\noverride_homedir = \"/srv/%d/%u\"\nallowed_shells = [\"/bin/bash\"]\n"
        "shell_fallback = \"/bin/sh\"\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  void SetUp() override { ASSERT_NE(daemon_, nullptr); }

  static std::string module_line(const std::string& name) {
    auto r = daemon_->getent("passwd '" + name + "'");
    return r.exit_code == 0 ? r.out : "exit " + std::to_string(r.exit_code);
  }
  static std::string network_line(const std::string& name) {
    auto r = run(bin_dir() + "/fastid --server 127.0.0.1:" + std::to_string(port_) + " user '" + name + "' 2>&1");
    return r.exit_code == 0 ? r.out : "exit " + std::to_string(r.exit_code);
  }

  static inline int port_ = 0;
};

TEST_F(HomeShellTest, TheDirectorysUsersGetTheTemplateAndAnAllowedShell) {
  // Three times: from the directory, then the store, then the fast cache.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(ends_with(module_line("zshuser"), ":/srv/corp/zshuser:/bin/sh\n")) << module_line("zshuser");
    EXPECT_TRUE(ends_with(module_line("bashuser"), ":/srv/corp/bashuser:/bin/bash\n")) << module_line("bashuser");
    EXPECT_TRUE(ends_with(module_line("user00001"), ":/srv/corp/user00001:/bin/sh\n")) << module_line("user00001");
  }
}

TEST_F(HomeShellTest, TheNetworkListenerServesTheSameRecords) {
  for (const char* name : {"zshuser", "bashuser", "user00002", "nohome", "zlocal"}) {
    EXPECT_EQ(network_line(name), module_line(name)) << name;
  }
}

TEST_F(HomeShellTest, FilesUsersGetTheFallbackHomeAndLoseAVetoedShell) {
  EXPECT_EQ(module_line("nohome"), "nohome:x:4001:4001::/home/fallback/nohome:/bin/bash\n");
  EXPECT_EQ(module_line("zlocal"), "zlocal:x:4002:4002::/home/zlocal:/bin/sh\n");
}

// The attack: names the directory controls that would make the home
// "/srv/corp/x/../../etc" (= /etc) or "/srv/corp/..". Refused, by name and by
// uid, and logged; never in an enumeration.
TEST_F(HomeShellTest, ADirectoryNameCannotWalkItsHomeOutOfTheTemplate) {
  EXPECT_EQ(module_line("x/../../etc"), "exit 2");
  EXPECT_EQ(module_line(".."), "exit 2");
  EXPECT_EQ(module_line("100082"), "exit 2");
  EXPECT_EQ(module_line("100083"), "exit 2");
  auto all = daemon_->getent("passwd");
  EXPECT_EQ(all.out.find("/etc:"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("/srv/corp/..:"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("/srv/corp/zshuser"), std::string::npos) << all.out;
  const std::string log = daemon_->log();
  EXPECT_NE(log.find("user \"x/../../etc\" refused: name \"x/../../etc\" cannot be part of a path"),
            std::string::npos) << log;
}

}  // namespace
}  // namespace fastid::testing
