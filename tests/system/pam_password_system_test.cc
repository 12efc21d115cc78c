// Password aging and changes against a private slapd (tests/ldap/slapd-fixture
// over StartTLS, with the ppolicy overlay), through the real interfaces
// (issue #16):
//  - expiry warnings: `pamtester SERVICE USER acct_mgmt` succeeds and shows
//    "Your password will expire in N days." (PAM_TEXT_INFO) from the
//    shadowAccount attributes (shadowLastChange + shadowMax, shadowWarning)
//    and from the password policy (pwdChangedTime + pwdMaxAge,
//    pwdExpireWarning; the default policy named by password_policy_dn, or the
//    entry's pwdPolicySubentry), the nearer one when both apply; the
//    policy's warning control on the login's bind; a password the policy has
//    aged out is PAM_NEW_AUTHTOK_REQD, and a grace login says so; a files
//    user's shadow file warns the same way;
//  - after `pamtester chauthtok` the entry's shadowLastChange is today (a
//    shadowAccount entry only), the account check is in order again, and the
//    user's records have left the store and the fast cache;
//  - `fastid passwd`: a user changes their own password (no USER: the
//    caller's name), never another user's, not with a wrong current password;
//    a files user is told to use passwd(1); on a terminal nothing typed is
//    echoed (tests/system/pty_answer.py runs it on a pseudo-terminal); with
//    the directory down the changed password logs in offline, the old one not.
// Needs root (unshare -m, setpriv); skipped otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/pam_fixture.h"
#include "support/pam_slapd_suite.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

constexpr const char* kAccountOk = "account management done";
constexpr const char* kChanged = "authentication token altered successfully";
constexpr int kFirstUid = 100300;

struct TestUser {
  const char* name;
  const char* policy;  // "" = the default policy; else cn=POLICY,ou=policies
  std::string shadow;  // shadowAccount attribute lines ("" with shadow = false)
  bool shadow_class = true;
};

class PamPasswordTest : public PamSlapdSuite<PamPasswordTest> {
 public:
  static constexpr const char* kService = "fastid-aging";
  static void set_up_directory() {
    ASSERT_TRUE(slapd_->add_ppolicy_overlay()) << slapd_->error();  // default: cn=default,ou=policies
    ASSERT_TRUE(slapd_->ldapmodify(directory_ldif())) << read_file(slapd_->dir() + "/change.out");
  }
  static void set_up_daemon() {
    // A files user inside its shadow warning period: 5 of 7 days left.
    const std::string shadow = daemon_->dir() + "/data/local-shadow";
    write_file(shadow, "localonly:" + hash_of("Local-pw.1", "$y$") + ":" + std::to_string(today() - 25) + ":0:30:7:::\n");
    ::chmod(shadow.c_str(), 0600);
    daemon_->write_config(daemon_config("max_failures = 20\ncaller_rate = 50\ncaller_burst = 50\n",
                                        local_files_provider(shadow),
                                        "password_policy_dn = \"" + policy_dn("default") + "\"\n"));
    add_password_stack();
  }

 protected:
  static std::string policy_dn(const std::string& name) { return "cn=" + name + ",ou=policies," + slapd_->base(); }
  static std::string user_dn(const std::string& name) { return "uid=" + name + ",ou=people," + slapd_->base(); }
  static std::string password_of(const std::string& name) { return "Start-pw." + name; }
  static std::string shadow(std::int64_t last_change_ago, int max_days, int warn_days) {
    return "shadowLastChange: " + std::to_string(today() - last_change_ago) + "\nshadowMax: " +
           std::to_string(max_days) + "\nshadowWarning: " + std::to_string(warn_days) + "\n";
  }
  static const std::vector<TestUser>& users() {
    static const std::vector<TestUser> list = {
        // The default policy: pwdMaxAge 10.5 days, a warning from 14 days before.
        {"warnpol", "", ""},
        // No age in its policy; shadow: 5 of 7 warning days left.
        {"warnshadow", "noage", shadow(25, 30, 7)},
        {"quiet", "noage", shadow(1, 30, 7)},
        // Both: the shadow fields' 3 days are nearer than the policy's 10.
        {"both", "", shadow(27, 30, 7)},
        // A policy whose passwords last 3 seconds.
        {"polexpired", "quick", ""},
        // The shadow password expired 70 days ago: the change starts aging again.
        {"aged", "noage", shadow(100, 30, 7)},
        {"noshadow", "noage", "", false},
        {"pwself", "noage", ""},
        {"pwvictim", "noage", ""},
        {"pwtty", "noage", ""},
        {"pwwrong", "noage", ""},
        {"pwoffline", "noage", ""},
    };
    return list;
  }
  static int uid_of(const std::string& name) {
    int uid = kFirstUid;
    for (const auto& u : users()) {
      if (name == u.name) return uid;
      ++uid;
    }
    return -1;
  }
  // The policies (ou=policies) and the users, added over LDAP so that the
  // overlay writes pwdChangedTime when each password is set.
  static std::string directory_ldif() {
    const std::string base = slapd_->base();
    std::string ldif = "dn: ou=policies," + base + "\nchangetype: add\nobjectClass: organizationalUnit\nou: policies\n\n";
    struct Policy {
      const char* name;
      const char* aging;
    };
    for (const Policy& p : {Policy{"default", "pwdMaxAge: 907200\npwdExpireWarning: 1209600\n"},
                            Policy{"noage", ""}, Policy{"quick", "pwdMaxAge: 3\npwdGraceAuthnLimit: 5\n"}}) {
      ldif += "dn: " + policy_dn(p.name) + "\nchangetype: add\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\n" +
              "cn: " + p.name + "\npwdAttribute: userPassword\npwdAllowUserChange: TRUE\n" + p.aging + "\n";
    }
    int uid = kFirstUid;
    for (const auto& u : users()) {
      const std::string name = u.name;
      ldif += "dn: " + user_dn(name) + "\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n" +
              (u.shadow_class ? "objectClass: shadowAccount\n" : "") + "uid: " + name + "\ncn: " + name + "\nsn: " +
              name + "\nuidNumber: " + std::to_string(uid++) + "\ngidNumber: 200001\nhomeDirectory: /home/" + name +
              "\nloginShell: /bin/sh\nuserPassword: " + password_of(name) + "\n" + u.shadow +
              (std::string(u.policy).empty() ? "" : "pwdPolicySubentry: " + policy_dn(u.policy) + "\n") + "\n";
    }
    return ldif;
  }

  static CommandResult account(const std::string& user) { return pamtester(user, {}, "acct_mgmt"); }
  // `fastid passwd ARGS` in the namespace (its own name comes from NSS), as `uid`.
  static CommandResult passwd(const std::string& args, const std::vector<std::string>& answers, int uid = 0) {
    std::string text;
    for (const auto& a : answers) text += a + "\n";
    return in_pam_namespace(*daemon_, bin_dir() + "/fastid passwd " + args, text, uid);
  }
  static std::string attribute(const std::string& user, const std::string& attr) {
    const std::string out = slapd_->ldapsearch("'(uid=" + user + ")' " + attr);
    const auto at = out.find("\n" + attr + ": ");
    if (at == std::string::npos) return "";
    const auto start = at + attr.size() + 3;
    return out.substr(start, out.find('\n', start) - start);
  }
  static std::string cache_show(const std::string& user, const std::string& key) {
    const std::string out =
        "\n" + run("FASTID_SOCKET_DIR=" + daemon_->socket_dir() + " " + bin_dir() + "/fastid cache show user " + user)
                   .out;
    const auto at = out.find("\n" + key + " ");
    if (at == std::string::npos) return "";
    const auto v = out.find_first_not_of(' ', at + key.size() + 1);
    return out.substr(v, out.find('\n', v) - v);
  }
};

TEST_F(PamPasswordTest, TheAccountCheckWarnsBeforeThePasswordExpires) {
  auto pol = account("warnpol");
  EXPECT_TRUE(has(pol, kAccountOk)) << pol.out;
  EXPECT_TRUE(has(pol, "Your password will expire in 10 days.")) << pol.out << daemon_->log();
  auto sh = account("warnshadow");
  EXPECT_TRUE(has(sh, kAccountOk)) << sh.out;
  EXPECT_TRUE(has(sh, "Your password will expire in 5 days.")) << sh.out;
  auto both = account("both");
  EXPECT_TRUE(has(both, kAccountOk)) << both.out;
  EXPECT_TRUE(has(both, "Your password will expire in 3 days.")) << both.out;
  // Outside the warning period, and without any aging: nothing to say.
  for (const char* user : {"quiet", "noshadow"}) {
    auto r = account(user);
    EXPECT_TRUE(has(r, kAccountOk)) << user << ": " << r.out;
    EXPECT_FALSE(has(r, "will expire")) << user << ": " << r.out;
  }
  // A files user: shadow(5)'s warning field, the same words.
  auto local = account("localonly");
  EXPECT_TRUE(has(local, kAccountOk)) << local.out;
  EXPECT_TRUE(has(local, "Your password will expire in 5 days.")) << local.out;
  // `fastid auth` prints the same words after its account check.
  auto cli = run("printf '%s\\n' '" + password_of("warnshadow") + "' | setsid -w env FASTID_SOCKET_DIR=" +
                 daemon_->socket_dir() + " " + bin_dir() + "/fastid auth warnshadow 2>&1");
  EXPECT_EQ(cli.exit_code, 0) << cli.out;
  EXPECT_TRUE(has(cli, "account warnshadow: success: Your password will expire in 5 days.")) << cli.out;
}

TEST_F(PamPasswordTest, APasswordThePolicyAgedOutMustBeChanged) {
  // pwdMaxAge 3 s: poll until the account check says so (at most 15 s).
  CommandResult r;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    r = account("polexpired");
    if (has(r, kNewToken)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } while (std::chrono::steady_clock::now() < until);
  EXPECT_TRUE(has(r, kNewToken)) << r.out << daemon_->log();
  EXPECT_TRUE(has(r, "(password policy)")) << r.out;
  // The directory still takes it a few times (pwdGraceAuthnLimit): the login
  // says how many are left and leads into the change. (slapd's own clock
  // first: its bind must see the password expired too; that costs a grace login.)
  const auto slapd_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (run("ldapwhoami -x -e ppolicy -H " + slapd_->uri() + " -D " + user_dn("polexpired") + " -w '" +
             password_of("polexpired") + "' 2>&1")
                 .out.find("grace") == std::string::npos &&
         std::chrono::steady_clock::now() < slapd_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto grace = pamtester("polexpired", {password_of("polexpired")}, "authenticate acct_mgmt");
  EXPECT_TRUE(has(grace, "grace login(s) left")) << grace.out << daemon_->log();
  EXPECT_TRUE(has(grace, kNewToken)) << grace.out;
}

TEST_F(PamPasswordTest, TheLoginShowsThePolicysExpiryWarningFromTheBind) {
  // slapd's answer to the bind carries timeBeforeExpiration (the policy
  // control): shown at authentication, before any account check.
  auto r = pamtester("warnpol", {password_of("warnpol")}, "authenticate");
  EXPECT_TRUE(has(r, kSuccess)) << r.out;
  EXPECT_TRUE(has(r, "Your password will expire in 10 days.")) << r.out << daemon_->log();
  // The account check finds the same from the policy entry: said once, not twice.
  auto both = pamtester("warnpol", {password_of("warnpol")}, "authenticate acct_mgmt");
  EXPECT_TRUE(has(both, kAccountOk)) << both.out;
  const std::string warning = "Your password will expire in 10 days.";
  const auto first = both.out.find(warning);
  EXPECT_NE(first, std::string::npos) << both.out;
  EXPECT_EQ(both.out.find(warning, first + 1), std::string::npos) << "shown twice:\n" << both.out;
}

TEST_F(PamPasswordTest, AChangeStartsShadowAgingAgainAndDropsTheCachedRecords) {
  const std::string before = attribute("aged", "shadowLastChange");
  ASSERT_EQ(before, std::to_string(today() - 100));
  EXPECT_TRUE(has(account("aged"), kNewToken));
  // The user's records, stored and published.
  ASSERT_EQ(daemon_->getent("passwd aged").exit_code, 0);
  ASSERT_EQ(cache_show("aged", "store.corp.passwd.byname").rfind("aged:x:", 0), 0u)
      << run("FASTID_SOCKET_DIR=" + daemon_->socket_dir() + " " + bin_dir() + "/fastid cache show user aged").out;
  ASSERT_EQ(cache_show("aged", "fastcache.passwd.aged"), "published");

  auto r = pamtester("aged", {password_of("aged"), "Second-pw.aged", "Second-pw.aged"}, "chauthtok");
  EXPECT_TRUE(has(r, kChanged)) << r.out << daemon_->log();
  EXPECT_EQ(attribute("aged", "shadowLastChange"), std::to_string(today())) << daemon_->log();
  auto after = account("aged");
  EXPECT_TRUE(has(after, kAccountOk)) << after.out;
  EXPECT_EQ(cache_show("aged", "store.corp.passwd.byname"), "not stored");
  EXPECT_EQ(cache_show("aged", "fastcache.passwd.aged"), "not published");

  // An entry without the shadowAccount class gets no shadow attribute.
  auto plain = pamtester("noshadow", {password_of("noshadow"), "Second-pw.noshadow", "Second-pw.noshadow"},
                         "chauthtok");
  EXPECT_TRUE(has(plain, kChanged)) << plain.out;
  EXPECT_EQ(attribute("noshadow", "shadowLastChange"), "");
  EXPECT_TRUE(directory_accepts("noshadow", "Second-pw.noshadow"));
  EXPECT_EQ(daemon_->log().find("shadowLastChange not updated"), std::string::npos) << daemon_->log();
}

TEST_F(PamPasswordTest, FastidPasswdChangesTheCallersOwnPassword) {
  // No USER: the caller's own name, from its uid through NSS.
  auto r = passwd("", {password_of("pwself"), "Second-pw.pwself", "Second-pw.pwself"}, uid_of("pwself"));
  EXPECT_EQ(r.exit_code, 0) << r.out << daemon_->log();
  EXPECT_TRUE(has(r, "passwd pwself: password changed")) << r.out;
  EXPECT_TRUE(directory_accepts("pwself", "Second-pw.pwself"));
  EXPECT_FALSE(directory_accepts("pwself", password_of("pwself")));
  EXPECT_NE(daemon_->log().find("pam: password changed by provider corp: user pwself (service fastid-passwd, caller uid " +
                                std::to_string(uid_of("pwself"))),
            std::string::npos)
      << daemon_->log();
}

TEST_F(PamPasswordTest, FastidPasswdNeverChangesAnotherUsersPassword) {
  // pwself knows pwvictim's current password: still not theirs to change.
  auto r = passwd("pwvictim", {password_of("pwvictim"), "Taken-over.1", "Taken-over.1"}, uid_of("pwself"));
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_TRUE(has(r, "only root may ask about another user")) << r.out;
  EXPECT_TRUE(directory_accepts("pwvictim", password_of("pwvictim")));
  EXPECT_FALSE(directory_accepts("pwvictim", "Taken-over.1"));
  // Root, too, needs the current password.
  auto wrong = passwd("pwwrong", {"Not-the-pw.1", "Taken-over.2", "Taken-over.2"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.out;
  EXPECT_TRUE(directory_accepts("pwwrong", password_of("pwwrong")));
  // Two different new passwords: nothing is sent.
  auto differ = passwd("pwwrong", {password_of("pwwrong"), "Taken-over.3", "Taken-over.4"});
  EXPECT_EQ(differ.exit_code, 3) << differ.out;
  EXPECT_TRUE(has(differ, "the new passwords differ")) << differ.out;
  EXPECT_TRUE(directory_accepts("pwwrong", password_of("pwwrong")));
  // A files user: fastid does not change that password, and asks for none.
  auto local = passwd("localonly", {"whatever.1", "whatever.2", "whatever.2"});
  EXPECT_EQ(local.exit_code, 1) << local.out;
  EXPECT_TRUE(has(local, "use passwd(1)")) << local.out;
  EXPECT_FALSE(has(local, "Changing the password")) << local.out;
}

TEST_F(PamPasswordTest, FastidPasswdEchoesNothingOnATerminal) {
  const std::string old_pw = password_of("pwtty"), new_pw = "Tty-typed.secret9";
  auto r = run("env FASTID_SOCKET_DIR=" + daemon_->socket_dir() + " /usr/bin/python3 " + source_dir() +
               "/tests/system/pty_answer.py 'Current password: =" + old_pw + "' 'New password: =" + new_pw +
               "' 'Retype new password: =" + new_pw + "' -- " + bin_dir() + "/fastid passwd pwtty");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has(r, "Current password: ")) << r.out;
  EXPECT_TRUE(has(r, "passwd pwtty: password changed")) << r.out;
  EXPECT_FALSE(has(r, old_pw)) << "the current password was echoed:\n" << r.out;
  EXPECT_FALSE(has(r, new_pw)) << "the new password was echoed:\n" << r.out;
  EXPECT_TRUE(directory_accepts("pwtty", new_pw));
}

// Last (it stops slapd): a password changed through `fastid passwd` is the
// one the offline credential holds, so with the directory down the new
// password logs in "with cached credentials" and the old one does not.
TEST_F(PamPasswordTest, ZzWithTheDirectoryDownTheNewPasswordLogsInAndTheOldOneDoesNot) {
  const std::string new_pw = "Offline-new.pw7", old_pw = password_of("pwoffline");
  auto changed = passwd("pwoffline", {old_pw, new_pw, new_pw});
  ASSERT_EQ(changed.exit_code, 0) << changed.out << daemon_->log();
  ASSERT_TRUE(slapd_->kill());
  auto now = pamtester("pwoffline", {new_pw}, "authenticate");
  EXPECT_TRUE(has(now, kSuccess)) << now.out << daemon_->log();
  EXPECT_TRUE(has(now, "cached credentials")) << now.out;
  auto before = pamtester("pwoffline", {old_pw}, "authenticate");
  EXPECT_TRUE(has(before, kAuthErr)) << before.out;
  EXPECT_FALSE(has(before, kSuccess)) << before.out;
}

}  // namespace
}  // namespace fastid::testing
