// PasswordCheck: a user's password checked by the KDC (auth_provider =
// "krb5", docs/kerberos.md). The password buys an initial ticket for the
// user (krb5_get_init_creds_password, no prompter: every KDC error comes
// back as a code), and that ticket is verified against this host's keytab
// (krb5_verify_init_creds, always with ap_req_nofail): only the real KDC
// knows the keytab's key, so a spoofed KDC that answers "yes" to any password
// is refused. The verified ticket can then be written to a credential cache
// for the user (user_cache.h). Runs in provider worker processes (it blocks).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/records.h"

namespace fastid::providers::krb5 {

class PasswordCheck {
 public:
  struct Options {
    std::string realm = {};   // "" = krb5.conf's default_realm
    std::string keytab = {};  // the host keytab the ticket is verified against; required
    std::string what = {};    // prefixes every message ("krb5: ")
  };

  // What a check found. The ticket is kept only by an accepted check, for
  // write_cache(); it is wiped when the Outcome goes.
  struct Outcome {
    core::Status status;          // ok: the password is the user's, the ticket verified
    bool password_expired = false;  // the KDC says the (right) password must be changed
    bool unverified = false;        // a ticket came, but not from the KDC of the keytab
    struct Ticket;
    std::shared_ptr<Ticket> ticket;  // with status ok
  };

  explicit PasswordCheck(Options options);
  ~PasswordCheck();
  PasswordCheck(const PasswordCheck&) = delete;
  PasswordCheck& operator=(const PasswordCheck&) = delete;

  // libkrb5 starts, the realm has a KDC in krb5.conf, the keytab can be read
  // and holds a host/ key: kInvalidArgument naming the key otherwise.
  core::Status check();

  // kOk: right password, ticket verified. kPermissionDenied: wrong password,
  // a disabled or expired principal, an expired password (password_expired,
  // only once the old password proved right), or a ticket that does not
  // verify against the keytab (a spoofed KDC; logged as an error). kNotFound:
  // the KDC does not know the user. kUnavailable: no KDC answered.
  Outcome check_password(std::string_view user, std::string_view password);

  // Writes the accepted ticket to a new credential cache file for uid/gid
  // (user_cache.h: `pattern` such as "FILE:/tmp/krb5cc_%U_XXXXXX"); returns
  // the cache's name ("FILE:/tmp/krb5cc_1000_a8Xk2p").
  core::Result<std::string> write_cache(const Outcome& accepted, const std::string& pattern,
                                        unsigned uid, unsigned gid);

  // A password change through the KDC's kpasswd service (krb5_change_password,
  // kadmind's port): an initial kadmin/changepw ticket with `old_password`
  // (one the KDC refuses: kOldPasswordRejected), then the change; the
  // realm's policy may refuse the new one (kNewPasswordRefused, with its
  // reason). The change counts only once a ticket for the new password
  // verifies against the keytab (a KDC and kpasswd server that are not the
  // realm's: kDenied, logged as an error). Errors: kNotFound (the KDC does not
  // know the user), kUnavailable (no KDC or kpasswd server answered).
  core::Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                      std::string_view new_password);

  // Whether a KDC of the realm answers at all: an AS exchange for the
  // keytab's first principal (any answer of the KDC counts). kUnavailable
  // when none does; the offline decision of the provider's probe.
  core::Status kdc_reachable();

  std::string principal_of(std::string_view user) const;

 private:
  struct Handles;
  Options options_;
  std::unique_ptr<Handles> h_;
};

}  // namespace fastid::providers::krb5
