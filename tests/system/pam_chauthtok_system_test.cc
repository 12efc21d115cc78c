// Password changes through real PAM (issue #16): `pamtester SERVICE USER
// chauthtok` with pam_fastid.so against fastidd, an LDAP provider and a private
// slapd (tests/ldap/slapd-fixture over StartTLS) with the ppolicy overlay: the
// provider binds as the user with the current password and sends the LDAP
// Password Modify extended operation (RFC 3062) for the bound entry itself.
// Checked: the new password authenticates and the old one does not; the
// directory's policy refusals (too short, in history) reach the user as
// PAM_AUTHTOK_ERR with slapd's reason; a password an administrator reset
// (pwdReset) makes acct_mgmt answer PAM_NEW_AUTHTOK_REQD until chauthtok; a
// files user is left to the next module (PAM_IGNORE); offline credentials
// follow the change. Attacks: a non-root caller changing another user's
// password, and wrong current passwords past the lockout.
// Needs root (unshare -m); skipped otherwise.
#include <crypt.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>

#include "support/pam_fixture.h"
#include "support/pam_slapd_suite.h"
#include "support/raw_client.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {
namespace {

constexpr const char* kChanged = "authentication token altered successfully";
constexpr const char* kTokenErr = "Authentication token manipulation error";

class PamChauthtokTest : public PamSlapdSuite<PamChauthtokTest> {
 public:
  static constexpr const char* kService = "fastid-chauthtok";
  static void set_up_directory() {
    ASSERT_TRUE(add_password_policy()) << "ppolicy could not be set up in " << slapd_->dir();
  }
  static void set_up_daemon() {
    daemon_->write_config(daemon_config("max_failures = 3\n", local_files_provider()));
    add_password_stack();
  }

 protected:
  static CommandResult login(const std::string& user, const std::string& password,
                             const std::string& steps = "authenticate") {
    return pamtester(user, {password}, steps);
  }
  static CommandResult change(const std::string& user, const std::string& old_pw, const std::string& new_pw,
                              int uid = 0) {
    return pamtester(user, {old_pw, new_pw, new_pw}, "chauthtok", uid);
  }

  // The ppolicy overlay (module loaded by the fixture) with a default policy
  // that checks quality (at least 8 characters, the last 3 passwords not
  // again) and a second policy whose passwords must be changed after an
  // administrator set them (pwdMustChange); users added over LDAP so that
  // slapd keeps the operational attributes ppolicy writes.
  static bool add_password_policy() {
    const std::string base = slapd_->base();
    if (!slapd_->add_ppolicy_overlay()) return false;
    std::string ldif = "dn: ou=policies," + base +
                       "\nchangetype: add\nobjectClass: organizationalUnit\nou: policies\n\n";
    for (const char* policy : {"default", "mustchange"}) {
      ldif += "dn: cn=" + std::string(policy) + ",ou=policies," + base +
              "\nchangetype: add\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: " + policy +
              "\npwdAttribute: userPassword\npwdMinLength: 8\npwdCheckQuality: 2\npwdInHistory: 3\n"
              "pwdAllowUserChange: TRUE\n" +
              (std::string(policy) == "mustchange" ? "pwdMustChange: TRUE\n" : "") + "\n";
    }
    int uid = 100090;
    for (const char* user : {"chris", "dana", "erin", "frank", "resetme", "victim", "gina"}) {
      ldif += "dn: uid=" + std::string(user) + ",ou=people," + base +
              "\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
              "objectClass: shadowAccount\nuid: " + user + "\ncn: " + user + "\nsn: " + user +
              "\nuidNumber: " + std::to_string(uid++) + "\ngidNumber: 200001\nhomeDirectory: /home/" + user +
              "\nloginShell: /bin/sh\nuserPassword: Start-pw." + user + "\n" +
              (std::string(user) == "resetme" ? "pwdPolicySubentry: cn=mustchange,ou=policies," + base + "\n"
                                              : "") +
              "\n";
    }
    return slapd_->ldapmodify(ldif);
  }
};

// The offline line of `user` accepts `password` (crypt of the cached hash).
bool offline_accepts(const std::string& file, const std::string& user, const std::string& password) {
  const std::string text = read_file(file);
  const std::size_t at = text.find(user + ":");
  if (at == std::string::npos || (at != 0 && text[at - 1] != '\n')) return false;
  const std::size_t start = at + user.size() + 1;
  const std::string hash = text.substr(start, text.find(':', start) - start);
  crypt_data data{};
  const char* h = crypt_r(password.c_str(), hash.c_str(), &data);
  return h != nullptr && hash == h;
}

TEST_F(PamChauthtokTest, AChangedPasswordAuthenticatesAndTheOldOneNoLonger) {
  const std::string offline = daemon_->dir() + "/state/pam-offline";
  ASSERT_TRUE(has(login("chris", "Start-pw.chris"), kSuccess));
  ASSERT_TRUE(offline_accepts(offline, "chris", "Start-pw.chris"));
  auto r = change("chris", "Start-pw.chris", "Second-pw.chris");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has(r, kChanged)) << r.out;
  EXPECT_TRUE(has(login("chris", "Second-pw.chris"), kSuccess));
  EXPECT_TRUE(has(login("chris", "Start-pw.chris"), kAuthErr));
  EXPECT_TRUE(directory_accepts("chris", "Second-pw.chris"));
  EXPECT_FALSE(directory_accepts("chris", "Start-pw.chris"));
  // The offline credential follows: the new password, not the old one.
  EXPECT_TRUE(offline_accepts(offline, "chris", "Second-pw.chris"));
  EXPECT_FALSE(offline_accepts(offline, "chris", "Start-pw.chris"));
  EXPECT_NE(daemon_->log().find("pam: password changed by provider corp: user chris"), std::string::npos)
      << daemon_->log();
}

TEST_F(PamChauthtokTest, TheDirectorysPolicyRefusalsReachTheUserAsAuthtokErr) {
  auto short_pw = change("dana", "Start-pw.dana", "short");
  EXPECT_TRUE(has(short_pw, kTokenErr)) << short_pw.out;
  EXPECT_TRUE(has(short_pw, "too short")) << short_pw.out;
  ASSERT_TRUE(has(change("dana", "Start-pw.dana", "Next-pw.dana"), kChanged));
  // Back to a password of the history (pwdInHistory 3).
  auto again = change("dana", "Next-pw.dana", "Start-pw.dana");
  EXPECT_TRUE(has(again, kTokenErr)) << again.out;
  EXPECT_TRUE(has(again, "history")) << again.out;
  EXPECT_TRUE(directory_accepts("dana", "Next-pw.dana"));
}

TEST_F(PamChauthtokTest, AWrongCurrentPasswordIsPermissionDeniedAndChangesNothing) {
  auto r = change("erin", "Not-the-pw.1", "Other-pw.erin");
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_TRUE(directory_accepts("erin", "Start-pw.erin"));
  EXPECT_FALSE(directory_accepts("erin", "Other-pw.erin"));
}

// ppolicy's pwdReset: the administrator set the password; the account check
// says "new password required" (PAM_NEW_AUTHTOK_REQD, as pam_unix for an
// expired one) until the user changes it, which clears the flag.
TEST_F(PamChauthtokTest, APasswordResetByTheAdministratorLeadsIntoTheChange) {
  const std::string dn = "uid=resetme,ou=people," + slapd_->base();
  ASSERT_TRUE(slapd_->ldapmodify("dn: " + dn + "\nchangetype: modify\nreplace: userPassword\n"
                                 "userPassword: Reset-by.admin\n"));
  auto flag = run("ldapsearch -LLL -x -H " + slapd_->uri() + " -D cn=admin," + slapd_->base() +
                  " -w admin-secret -b " + dn + " -s base pwdReset");
  ASSERT_NE(flag.out.find("pwdReset: TRUE"), std::string::npos) << flag.out;
  auto must = login("resetme", "Reset-by.admin", "authenticate acct_mgmt");
  EXPECT_TRUE(has(must, kSuccess)) << must.out;
  EXPECT_TRUE(has(must, kNewToken)) << must.out;
  auto r = change("resetme", "Reset-by.admin", "Chosen-by.me");
  EXPECT_TRUE(has(r, kChanged)) << r.out;
  auto after = login("resetme", "Chosen-by.me", "authenticate acct_mgmt");
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_TRUE(has(after, "account management done")) << after.out;
  EXPECT_TRUE(has(login("resetme", "Reset-by.admin"), kAuthErr));
}

// A files user's password is the shadow file's: fastid neither prompts nor
// changes it, and the next module (here pam_permit) decides.
TEST_F(PamChauthtokTest, AFilesUserIsLeftToTheNextModule) {
  auto r = change("localonly", "whatever-1", "whatever-2");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(has(r, "Current password")) << r.out;
  EXPECT_NE(daemon_->log().find("password change left to other modules"), std::string::npos) << daemon_->log();
}

// Attack: a user who knows (or guesses) another user's password runs
// chauthtok for them from their own account. Only root may ask about another
// user; the victim's password stays.
TEST_F(PamChauthtokTest, ANonRootCallerCannotChangeAnotherUsersPassword) {
  auto r = change("victim", "Start-pw.victim", "Taken-over.1", /*uid=*/100008);
  EXPECT_TRUE(has(r, kDenied)) << r.out;
  EXPECT_FALSE(has(r, kChanged)) << r.out;
  EXPECT_TRUE(directory_accepts("victim", "Start-pw.victim"));
  EXPECT_FALSE(directory_accepts("victim", "Taken-over.1"));
  EXPECT_NE(daemon_->log().find("a caller may only ask about itself: user victim"), std::string::npos)
      << daemon_->log();
}

// Attack: chauthtok as a password oracle. Each wrong current password is a
// failed attempt in the lockout; past max_failures (3) even the right one is
// refused before the directory is asked, as a login would be.
TEST_F(PamChauthtokTest, WrongCurrentPasswordsCountTowardsTheLockout) {
  for (int i = 0; i < 3; ++i) {
    auto r = change("frank", "Guess-" + std::to_string(i) + ".pw", "Frank-new.1");
    EXPECT_TRUE(has(r, kDenied)) << r.out;
  }
  auto right = change("frank", "Start-pw.frank", "Frank-new.1");
  EXPECT_TRUE(has(right, kDenied)) << right.out;
  EXPECT_TRUE(directory_accepts("frank", "Start-pw.frank"));
  EXPECT_FALSE(directory_accepts("frank", "Frank-new.1"));
  EXPECT_TRUE(has(login("frank", "Start-pw.frank"), kMaxTries));
}

// Attack: current-password guesses, each followed by a frame with another
// guess and an empty new password (sent raw: the module never sends one).
// Such a frame used to reach the directory's provider, which refused the new
// password without binding, and the daemon took that as a right current
// password and forgot the user's failures: the guesses never locked the
// account. Now it is refused before the lockout and counts for nothing.
TEST_F(PamChauthtokTest, AGuessWithAnEmptyNewPasswordDoesNotResetTheLockout) {
  auto send = [](const std::string& old_pw, const std::string& new_pw) {
    proto::Request req;
    req.opcode = proto::Opcode::kChangePassword;
    req.request_id = 7;
    req.name = "gina";
    req.password.assign(old_pw);
    req.new_password.assign(new_pw);
    req.service = "attack";
    const int fd = connect_unix(daemon_->socket_dir() + "/pam");
    auto reply = exchange(fd, req);
    ::close(fd);
    if (!reply) return proto::AuthResult::kUnavailable;
    auto answer = proto::decode_auth_reply(*reply);
    return answer ? answer->result : proto::AuthResult::kUnavailable;
  };
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(send("Guess-" + std::to_string(round), "Gina-new.pw1"), proto::AuthResult::kAuthError) << round;
    EXPECT_EQ(send("Guess-x" + std::to_string(round), ""), proto::AuthResult::kTokenError) << round;
  }
  // Three wrong current passwords (max_failures): locked, whatever came between.
  EXPECT_EQ(send("Start-pw.gina", "Gina-new.pw1"), proto::AuthResult::kLocked);
  EXPECT_TRUE(directory_accepts("gina", "Start-pw.gina"));
  EXPECT_FALSE(directory_accepts("gina", "Gina-new.pw1"));
}

}  // namespace
}  // namespace fastid::testing
