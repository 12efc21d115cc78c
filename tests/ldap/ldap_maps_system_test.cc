// Netgroups and SSH keys from a private slapd (issue #16), through the real
// interfaces: `getent netgroup` and innetgr() (tests/system/innetgr_query) in
// a mount namespace with the test's own nsswitch.conf, `fastid ssh-keys`, and
// Debian's sshd running `fastid ssh-keys` as its AuthorizedKeysCommand. The
// directory is hostile: triples with a newline, a blank or a missing field,
// an over-long host, a nested name that is no name, two entries of one
// netgroup, an SSH key value carrying a second key after a newline, a value
// that is not a key, a user whose name differs only in case. Needs root
// (unshare -m); skipped otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "support/daemon_fixture.h"
#include "support/netgroup_dataset.h"
#include "support/slapd_fixture.h"
#include "support/slapd_suite.h"

namespace fastid::testing {
namespace {

constexpr const char* kNsswitch = "passwd: files fastid\ngroup: files fastid\nnetgroup: fastid\n";

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

std::string b64(const std::string& s) {
  return run("printf '%s' '" + s + "' | base64 -w0").out;
}

// The dataset's netgroups and the hostile ones, for slapadd (no schema
// checks: slapd itself would refuse some of these values over LDAP).
std::string netgroups_ldif(const std::string& base) {
  const std::string ou = ",ou=netgroups," + base;
  return netgroup_ldif(base) +
         "dn: cn=ng-hostile" + ou + "\nobjectClass: nisNetgroup\ncn: ng-hostile\n"
         "nisNetgroupTriple: (good.example,,)\n"
         "nisNetgroupTriple:: " + b64("(evil\nhost,,)") + "\n"
         "nisNetgroupTriple: (two,fields)\n"
         "nisNetgroupTriple: (bad host,,)\n"
         "nisNetgroupTriple: (" + std::string(300, 'h') + ",,)\n"
         "memberNisNetgroup: (not-a-name,,)\n"
         "memberNisNetgroup: ng-users\n\n"
         "dn: cn=ng-twin" + ou + "\nobjectClass: nisNetgroup\ncn: ng-twin\nnisNetgroupTriple: (one,,)\n\n"
         "dn: cn=ng-twin,ou=people," + base + "\nobjectClass: nisNetgroup\ncn: ng-twin\nnisNetgroupTriple: (two,,)\n\n";
}

CommandResult getent_netgroup(const Daemon& d, const std::string& name) {
  return with_nsswitch(d, kNsswitch, "getent netgroup " + name);
}

// What both schemas' suites check: every netgroup of the dataset, flattened
// through the cycle, and nothing for an unknown name...
void expect_the_datasets_netgroups(const Daemon& d) {
  for (const auto& def : netgroup_defs()) {
    CommandResult r = getent_netgroup(d, def.name);
    EXPECT_EQ(r.exit_code, 0) << def.name << ": " << r.out << d.log();
    EXPECT_EQ(parse_getent_netgroup(r.out), expected_triples(def.name)) << def.name << ": " << r.out;
  }
  EXPECT_EQ(getent_netgroup(d, "ng-nosuch").out, "");
}

// ... and innetgr(3) answering as the dataset says.
void expect_the_datasets_innetgr(const Daemon& d) {
  const auto queries = innetgr_queries();
  const auto answers = ask_innetgr(d, queries);
  ASSERT_EQ(answers.size(), queries.size()) << (answers.empty() ? "" : answers[0]);
  for (size_t i = 0; i < queries.size(); ++i) {
    auto f = split(queries[i], ' ');
    EXPECT_EQ(answers[i], expected_innetgr(f[0], f[1], f[2], f[3]) ? "1" : "0") << "innetgr(" << queries[i] << ")";
  }
}

std::string key_user_ldif(const Slapd& s, const std::string& name, const std::string& uid,
                          const std::vector<std::string>& keys) {
  std::string out = "dn: uid=" + name + ",ou=people," + s.base() +
                    "\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
                    "objectClass: ldapPublicKey\nuid: " + name + "\ncn: " + name + "\nsn: " + name +
                    "\nuidNumber: " + uid + "\ngidNumber: 200001\nhomeDirectory: /tmp\nloginShell: /bin/sh\n";
  for (const auto& k : keys) out += "sshPublicKey:: " + b64(k) + "\n";
  return out + "\n";
}

// What both schemas' suites share: a folder of their own (dir_), slapd_ and
// a daemon_ on it, getent netgroup. Needs root (unshare -m).
template <typename Suite>
class LdapMapsSuite : public SlapdDaemonSuite<Suite> {
 protected:
  using Base = SlapdDaemonSuite<Suite>;
  using Base::daemon_;
  using Base::slapd_;

  // daemon_ on slapd_, its ldap provider with `ldap_keys`.
  static void start_daemon(const std::string& ldap_keys = "") {
    daemon_ = new Daemon(1, 1);
    daemon_->write_config(Base::daemon_section() + slapd_->provider_toml(ldap_keys));
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    Base::TearDownTestSuite();
    if (dir_ != nullptr) run("rm -rf " + *dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
    ASSERT_TRUE(daemon_ != nullptr && daemon_->answers());
  }
  static CommandResult getent(const std::string& name) { return getent_netgroup(*daemon_, name); }

  static inline std::string* dir_ = nullptr;
};

class LdapMapsTest : public LdapMapsSuite<LdapMapsTest> {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    dir_ = new std::string(::mkdtemp(std::string("/tmp/fastid-maps-XXXXXX").data()));
    write_file(*dir_ + "/netgroups.ldif", netgroups_ldif("dc=fastid,dc=test"));
    slapd_ = new Slapd(Slapd::Options{.extra = *dir_ + "/netgroups.ldif", .users = 20, .groups = 2});
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    // Two key pairs: alice's key is in the directory, mallory's is smuggled
    // after a newline inside alice's value and must never be served.
    for (const char* k : {"alice", "mallory"}) {
      ASSERT_EQ(run("ssh-keygen -q -t ed25519 -N '' -C " + std::string(k) + " -f " + *dir_ + "/" + k).exit_code, 0);
    }
    const std::string alice = trim(read_file(*dir_ + "/alice.pub"));
    const std::string mallory = trim(read_file(*dir_ + "/mallory.pub"));
    ASSERT_TRUE(slapd_->ldapmodify(
        key_user_ldif(*slapd_, "keyed", "100501", {alice + "\n", "ssh-ed25519 AAAA" + std::string(10, 'x'),
                                                     "command=\"true\" " + alice + "\n" + mallory, "not a key"}) +
        key_user_ldif(*slapd_, "keyless", "100502", {}) +
        key_user_ldif(*slapd_, "Keyed2", "100503", {mallory})))
        << read_file(slapd_->dir() + "/change.out");
    alice_key_ = new std::string(alice);
    ASSERT_NO_FATAL_FAILURE(start_daemon());
  }
  static void TearDownTestSuite() {
    LdapMapsSuite::TearDownTestSuite();
    delete alice_key_;
    alice_key_ = nullptr;
  }
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  // `fastid ssh-keys ARGS`: stdout only (stderr is the test's).
  static CommandResult ssh_keys(const std::string& args) {
    return run(daemon_->env() + bin_dir() + "/fastid ssh-keys " + args);
  }

  static inline std::string* alice_key_ = nullptr;
};

TEST_F(LdapMapsTest, GetentNetgroupIsTheDatasetFlattenedThroughTheCycle) { expect_the_datasets_netgroups(*daemon_); }

TEST_F(LdapMapsTest, InnetgrAnswersAsTheDatasetSays) { expect_the_datasets_innetgr(*daemon_); }

TEST_F(LdapMapsTest, HostileTriplesAndNamesAreDroppedAndTwoEntriesOfOneNameAreNone) {
  CommandResult r = getent("ng-hostile");
  std::set<Triple> want = expected_triples("ng-users");
  want.insert({"good.example", "", ""});
  EXPECT_EQ(parse_getent_netgroup(r.out), want) << r.out;
  EXPECT_FALSE(has(r.out, "evil")) << r.out;
  EXPECT_TRUE(has(daemon_->log(), "(evil\\nhost,,)")) << "the dropped triple is logged, escaped";
  CommandResult twin = getent("ng-twin");
  EXPECT_EQ(twin.out, "") << "two entries named ng-twin: neither is served";
  EXPECT_TRUE(has(daemon_->log(), "2 netgroup entries named \"ng-twin\""));
}

TEST_F(LdapMapsTest, SshKeysPrintsOnlyTheUsersValidKeysOneLineEach) {
  CommandResult r = ssh_keys("keyed");
  EXPECT_EQ(r.exit_code, 0);
  // alice's key; the value that smuggled mallory's after a newline, the
  // truncated blob and the non-key are skipped (and logged).
  EXPECT_EQ(r.out, *alice_key_ + "\n");
  const std::string mallory = trim(read_file(*dir_ + "/mallory.pub"));
  EXPECT_FALSE(has(r.out, mallory.substr(12, 40)));
  EXPECT_TRUE(has(daemon_->log(), "skipped: a control character")) << daemon_->log();
  EXPECT_EQ(ssh_keys("keyless").exit_code, 0);
  EXPECT_EQ(ssh_keys("keyless").out, "");
  // Unknown users, and names that match another entry only ignoring case:
  // nothing printed, exit 2.
  for (const char* who : {"nobody-here", "KEYED", "keyed2"}) {
    CommandResult u = ssh_keys(who);
    EXPECT_EQ(u.exit_code, 2) << who;
    EXPECT_EQ(u.out, "") << who;
  }
  // Names sshd could be handed by anyone who connects: refused before any
  // lookup, nothing printed, exit 1.
  for (const char* hostile : {"'a b'", "'../../etc'", "'x:y'", "'*'", "\"$(printf 'keyed\\nx')\"", "-- -x",
                              "''"}) {
    CommandResult h = ssh_keys(hostile);
    EXPECT_EQ(h.exit_code, 1) << hostile << ": " << h.out;
    EXPECT_EQ(h.out, "") << hostile;
  }
  // `--` lets a name that starts with '-' reach the name check, not the option parser.
  EXPECT_EQ(ssh_keys("-- keyed").out, *alice_key_ + "\n");
}

TEST_F(LdapMapsTest, KeysAndNetgroupsAreAnsweredFromTheStoreWhileTheDirectoryIsDown) {
  ASSERT_EQ(ssh_keys("keyed").out, *alice_key_ + "\n");
  ASSERT_EQ(getent("ng-cycle-a").exit_code, 0);
  ASSERT_TRUE(slapd_->kill());
  EXPECT_EQ(ssh_keys("keyed").out, *alice_key_ + "\n") << daemon_->log();
  EXPECT_EQ(parse_getent_netgroup(getent("ng-cycle-a").out), expected_triples("ng-cycle-a"));
  ASSERT_TRUE(slapd_->restart());
}

// The same netgroups under `schema = "rfc2307bis"` (slapd loaded with the
// fixture's RFC 2307bis schema, which keeps RFC 2307's nisNetgroup): nested
// netgroups are memberNisNetgroup names in both layouts (as nslcd and SSSD
// read them), so getent netgroup and innetgr() answer exactly as above. A
// memberNisNetgroup written as a DN names no netgroup and is dropped.
class LdapMapsBisTest : public LdapMapsSuite<LdapMapsBisTest> {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    dir_ = new std::string(::mkdtemp(std::string("/tmp/fastid-maps-bis-XXXXXX").data()));
    const std::string base = "dc=fastid,dc=test";
    write_file(*dir_ + "/netgroups.ldif",
               netgroup_ldif(base) + "dn: cn=ng-dn-member,ou=netgroups," + base +
                   "\nobjectClass: nisNetgroup\ncn: ng-dn-member\nnisNetgroupTriple: (dn-host,,)\n"
                   "memberNisNetgroup: cn=ng-hosts,ou=netgroups," + base + "\n\n");
    slapd_ = new Slapd(Slapd::Options{.extra = *dir_ + "/netgroups.ldif", .schema = "rfc2307bis", .users = 20, .groups = 2});
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    ASSERT_EQ(slapd_->base(), base);
    ASSERT_NO_FATAL_FAILURE(start_daemon("schema = \"rfc2307bis\"\n"));
  }
};

TEST_F(LdapMapsBisTest, GetentNetgroupIsTheDatasetFlattenedThroughTheCycle) {
  // The directory holds them: slapd took the entries under the bis schema.
  ASSERT_TRUE(has(slapd_->ldapsearch("'(cn=ng-cycle-b)' memberNisNetgroup"), "memberNisNetgroup: ng-cycle-a"));
  expect_the_datasets_netgroups(*daemon_);
  CommandResult dn = getent("ng-dn-member");
  EXPECT_EQ(parse_getent_netgroup(dn.out), (std::set<Triple>{Triple{"dn-host", "", ""}})) << dn.out;
}

TEST_F(LdapMapsBisTest, InnetgrAnswersAsTheDatasetSays) { expect_the_datasets_innetgr(*daemon_); }

// Plain builds only: sshd and ssh are not instrumented, and in a sanitized
// build the nss_fastid module they load cannot run without the ASan runtime
// first in their library list (preloading it into sshd's privilege-separated
// children is not what this test is about). make test runs it in the plain build.
#ifndef FASTID_ASAN_RUNTIME
// sshd itself (Debian's openssh-server) on 127.0.0.1 with a private config
// and host key, in a mount namespace whose /etc/nsswitch.conf resolves users
// through fastid and whose /run/fastid is this daemon's socket folder, so
// that the sshd_config lines of docs/ssh.md work unchanged: sshd runs
// `fastid ssh-keys -- %u` as nobody with an empty environment. alice's key
// logs in as "keyed"; mallory's, smuggled into the directory after a
// newline, does not.
TEST_F(LdapMapsTest, SshdLetsTheDirectorysKeyInThroughAuthorizedKeysCommand) {
  const std::string sshd = "/usr/sbin/sshd";
  if (::access(sshd.c_str(), X_OK) != 0) GTEST_SKIP() << "no sshd: scripts/install-deps installs openssh-server";
  const std::string d = *dir_;
  const std::string port = run("/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
                               "print(s.getsockname()[1])'").out.substr(0, 5);
  ASSERT_EQ(run("ssh-keygen -q -t ed25519 -N '' -f " + d + "/hostkey").exit_code, 0);
  // sshd refuses a command under a directory anyone may write to (a clone
  // in /tmp, say): the namespace's /run is root's 0755, and fastid is copied
  // there, as a package installs it under /usr/bin.
  const std::string command = "/run/fastid-bin/fastid ssh-keys -- %u";
  write_file(d + "/sshd_config",
             "Port " + trim(port) + "\nListenAddress 127.0.0.1\nHostKey " + d + "/hostkey\nPidFile " + d +
                 "/sshd.pid\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                 "PubkeyAuthentication yes\nAuthorizedKeysFile none\nAuthorizedKeysCommand " + command +
                 "\nAuthorizedKeysCommandUser nobody\nLogLevel DEBUG1\n");
  write_file(daemon_->dir() + "/nsswitch.conf", kNsswitch);
  const std::string ssh = "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
                          "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -p " + trim(port);
  write_file(d + "/run.sh",
             "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/fastid /run/fastid-bin && "
                 "install -m 0755 " + bin_dir() + "/fastid /run/fastid-bin/fastid && mount --bind " +
                 daemon_->socket_dir() + " /run/fastid && mount --bind " + daemon_->dir() +
                 "/nsswitch.conf /etc/nsswitch.conf || exit 9\n"
                 "export LD_LIBRARY_PATH=" + lib_dir() + "\n"
                 "echo T: $(" + sshd + " -T -f " + d + "/sshd_config -C user=keyed,host=localhost,addr=127.0.0.1 "
                 "| grep -i '^authorizedkeyscommand ')\n"
                 + sshd + " -D -e -f " + d + "/sshd_config -E " + d + "/sshd.log &\n"
                 "i=0; until ssh-keyscan -T 1 -p " + trim(port) + " 127.0.0.1 >/dev/null 2>&1; do\n"
                 "  i=$((i+1)); [ $i -gt 600 ] && break; sleep 0.05; done\n"
                 "echo alice: $(" + ssh + " -i " + d + "/alice keyed@127.0.0.1 echo key-login-ok 2>/dev/null) rc=$?\n"
                 "echo mallory: $(" + ssh + " -i " + d + "/mallory keyed@127.0.0.1 echo key-login-ok 2>/dev/null)\n"
                 "kill $(cat " + d + "/sshd.pid)\n");
  CommandResult r = run("unshare -m sh " + d + "/run.sh 2>&1");
  const std::string log = read_file(d + "/sshd.log");
  EXPECT_TRUE(has(r.out, "T: authorizedkeyscommand " + command)) << r.out;
  EXPECT_TRUE(has(r.out, "alice: key-login-ok rc=0")) << r.out << log << daemon_->log();
  EXPECT_TRUE(has(r.out, "mallory: \n") || has(r.out, "mallory:\n")) << r.out;
  EXPECT_TRUE(has(log, "Accepted publickey for keyed")) << log;
}
#endif  // FASTID_ASAN_RUNTIME

}  // namespace
}  // namespace fastid::testing
