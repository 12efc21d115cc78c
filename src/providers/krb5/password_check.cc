// PasswordCheck (password_check.h): the KDC decides a password; the ticket
// it gives must verify against the host keytab.
#include "providers/krb5/password_check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "providers/krb5/krb5_util.h"
#include "providers/krb5/user_cache.h"

namespace fastid::providers::krb5 {

using core::Status;

struct PasswordCheck::Handles {
  Context ctx;
  krb5_keytab keytab = nullptr;
  krb5_principal keytab_principal = nullptr;  // its first entry's, for kdc_reachable()
  std::string realm;
  ~Handles() {
    if (ctx.ok() && keytab_principal != nullptr) krb5_free_principal(ctx.get(), keytab_principal);
    if (ctx.ok() && keytab != nullptr) krb5_kt_close(ctx.get(), keytab);
  }
};

// The verified ticket of an accepted check; freed (and its key wiped by
// libkrb5's krb5_free_cred_contents) with the Outcome.
struct PasswordCheck::Outcome::Ticket {
  krb5_context ctx = nullptr;
  krb5_creds creds{};
  ~Ticket() {
    if (ctx != nullptr) krb5_free_cred_contents(ctx, &creds);
  }
};

namespace {

// A NUL-terminated copy of the password for libkrb5, wiped when it goes.
class CString {
 public:
  explicit CString(std::string_view text) : size_(text.size()), data_(new char[text.size() + 1]) {
    std::memcpy(data_, text.data(), text.size());
    data_[text.size()] = '\0';
  }
  ~CString() {
    ::explicit_bzero(data_, size_ + 1);
    delete[] data_;
  }
  CString(const CString&) = delete;
  CString& operator=(const CString&) = delete;
  char* get() const { return data_; }

 private:
  std::size_t size_;
  char* data_;
};

// A user name that is one plain principal component: no instance, no realm,
// nothing libkrb5 would read as a separator.
bool plain_name(std::string_view user) {
  if (user.empty() || user.size() > 256) return false;
  for (char c : user) {
    if (c == '/' || c == '@' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// An initial ticket for `client` with the password, no prompter: an expired
// password comes back as KRB5KDC_ERR_KEY_EXP instead of a prompt for a new
// one. `service` null: a TGT; "kadmin/changepw": short, not forwardable, not
// proxiable (what kpasswd asks for).
krb5_error_code initial_ticket(krb5_context ctx, krb5_principal client, char* password, const char* service,
                               krb5_creds* creds) {
  krb5_get_init_creds_opt* opt = nullptr;
  krb5_error_code rc = krb5_get_init_creds_opt_alloc(ctx, &opt);
  if (rc != 0) return rc;
  if (service != nullptr) {
    krb5_get_init_creds_opt_set_tkt_life(opt, 5 * 60);
    krb5_get_init_creds_opt_set_forwardable(opt, 0);
    krb5_get_init_creds_opt_set_proxiable(opt, 0);
  }
  rc = krb5_get_init_creds_password(ctx, creds, client, password, nullptr, nullptr, 0, service, opt);
  krb5_get_init_creds_opt_free(ctx, opt);
  return rc;
}

// `name` (a plain_name) as a principal of `realm`, for the caller to free; the
// error, prefixed `pre`, names it.
core::Result<krb5_principal> principal_named(krb5_context ctx, const std::string& realm, const std::string& name,
                                             const std::string& pre) {
  krb5_principal principal = nullptr;
  if (krb5_error_code rc = krb5_build_principal(ctx, &principal, static_cast<unsigned>(realm.size()), realm.c_str(),
                                                name.c_str(), nullptr);
      rc != 0) {
    return core::error(Status::internal(pre + "principal of \"" + name + "\": " + message(ctx, rc)));
  }
  return principal;
}

// A krb5_data's bytes as printable text (kpasswd's result strings).
std::string text_of(const krb5_data& d) {
  std::string out;
  for (unsigned i = 0; i < d.length && out.size() < 512; ++i) {
    const auto c = static_cast<unsigned char>(d.data[i]);
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

PasswordCheck::PasswordCheck(Options options) : options_(std::move(options)) {}
PasswordCheck::~PasswordCheck() = default;

Status PasswordCheck::check() {
  const std::string& pre = options_.what;
  if (h_ == nullptr) h_ = std::make_unique<Handles>();
  if (!h_->ctx.ok()) {
    return Status::internal(pre + "cannot start libkrb5: error " + std::to_string(h_->ctx.init_error()));
  }
  krb5_context ctx = h_->ctx.get();
  if (options_.realm.empty()) {
    char* realm = nullptr;
    if (krb5_error_code rc = krb5_get_default_realm(ctx, &realm); rc != 0) {
      return Status::invalid_argument(pre + "krb5_realm is empty and krb5.conf names no default_realm: " +
                                      message(ctx, rc));
    }
    h_->realm = realm;
    krb5_free_default_realm(ctx, realm);
  } else {
    h_->realm = options_.realm;
  }
  if (options_.keytab.empty()) return Status::invalid_argument(pre + "krb5_keytab: a keytab is required");
  if (::access(options_.keytab.c_str(), R_OK) != 0) {
    return Status::invalid_argument(pre + "krb5_keytab " + options_.keytab + ": cannot be read: " +
                                    std::strerror(errno) + " (logins are verified against it)");
  }
  if (h_->keytab == nullptr) {
    const std::string name = "FILE:" + options_.keytab;
    if (krb5_error_code rc = krb5_kt_resolve(ctx, name.c_str(), &h_->keytab); rc != 0) {
      return Status::invalid_argument(pre + "krb5_keytab " + options_.keytab + ": " + message(ctx, rc));
    }
  }
  return Status::ok();
}

std::string PasswordCheck::principal_of(std::string_view user) const {
  return std::string(user) + "@" + (h_ != nullptr ? h_->realm : options_.realm);
}

PasswordCheck::Outcome PasswordCheck::check_password(std::string_view user, std::string_view password) {
  Outcome out;
  const std::string& pre = options_.what;
  if (Status st = check(); !st) {
    out.status = st;
    return out;
  }
  if (!plain_name(user)) {
    out.status = Status::not_found(pre + "not a plain principal name");
    return out;
  }
  if (password.empty()) {
    out.status = Status::permission_denied(pre + "password rejected");
    return out;
  }
  krb5_context ctx = h_->ctx.get();
  const auto built = principal_named(ctx, h_->realm, std::string(user), pre);
  if (!built) {
    out.status = built.error();
    return out;
  }
  krb5_principal client = *built;
  const std::string who = principal_of(user);
  CString secret(password);
  auto get_ticket = [&](const char* service, krb5_creds* creds) {
    return initial_ticket(ctx, client, secret.get(), service, creds);
  };
  auto ticket = std::make_shared<Outcome::Ticket>();
  krb5_error_code rc = get_ticket(nullptr, &ticket->creds);
  if (rc == 0) {
    ticket->ctx = ctx;
    // Only the real KDC knows the keytab's key: a ticket for host/ it issued
    // must decrypt with it. ap_req_nofail: no keytab is a failure, not a pass.
    krb5_verify_init_creds_opt vopt;
    krb5_verify_init_creds_opt_init(&vopt);
    krb5_verify_init_creds_opt_set_ap_req_nofail(&vopt, 1);
    rc = krb5_verify_init_creds(ctx, &ticket->creds, nullptr, h_->keytab, nullptr, &vopt);
    if (rc != 0) {
      const std::string why = message(ctx, rc);
      core::log_error(pre + "the ticket the KDC gave for " + who + " does not verify against krb5_keytab " +
                      options_.keytab + " (a KDC that is not the realm's, or a stale keytab): " + why);
      out.unverified = true;
      out.status = kdc_unreachable(rc) ? Status::unavailable(pre + "verifying the ticket: " + why)
                                       : Status::permission_denied(pre + "the KDC's answer did not verify");
    } else {
      out.status = Status::ok();
      out.ticket = std::move(ticket);
    }
    krb5_free_principal(ctx, client);
    return out;
  }
  if (rc == KRB5KDC_ERR_KEY_EXP) {
    // The KDC says "expired" before it checks the password: only a ticket
    // for the password-changing service proves the old password right.
    krb5_creds changepw{};
    const krb5_error_code rc2 = get_ticket("kadmin/changepw", &changepw);
    if (rc2 == 0) {
      krb5_free_cred_contents(ctx, &changepw);
      out.password_expired = true;
      out.status = Status::permission_denied(pre + "the password of " + who + " has expired; change it");
    } else {
      rc = rc2;
    }
  }
  if (!out.password_expired) {
    const std::string why = message(ctx, rc);
    if (kdc_unreachable(rc)) {
      out.status = Status::unavailable(pre + "no KDC of realm " + h_->realm + " answered: " + why);
    } else if (rc == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN) {
      out.status = Status::not_found(pre + who + " is not known to the KDC");
    } else if (rc == KRB5KDC_ERR_PREAUTH_FAILED || rc == KRB5KRB_AP_ERR_BAD_INTEGRITY) {
      out.status = Status::permission_denied(pre + "password rejected");
    } else if (rc == KRB5KDC_ERR_CLIENT_REVOKED) {
      out.status = Status::permission_denied(pre + who + " is disabled or locked out in the KDC");
    } else if (rc == KRB5KDC_ERR_NAME_EXP) {
      out.status = Status::permission_denied(pre + who + " has expired in the KDC");
    } else {
      out.status = Status::permission_denied(pre + "the KDC refused " + who + ": " + why);
    }
  }
  krb5_free_principal(ctx, client);
  return out;
}

core::Result<std::string> PasswordCheck::write_cache(const Outcome& accepted, const std::string& pattern,
                                                     unsigned uid, unsigned gid) {
  if (!accepted.status || accepted.ticket == nullptr || h_ == nullptr) {
    return core::error(Status::internal(options_.what + "no verified ticket to store"));
  }
  auto where = parse_cache_pattern(pattern, uid);
  if (!where) return core::error(where.error());
  krb5_context ctx = h_->ctx.get();
  if (!where->keyring.empty()) {
    // The user's persistent keyring: libkrb5 reaches it with
    // keyctl_get_persistent (root may ask for any uid's) and replaces the
    // collection's primary cache, as kinit does; only that uid (and root)
    // can reach the keyring.
    krb5_ccache cc = nullptr;
    krb5_error_code rc = krb5_cc_resolve(ctx, where->keyring.c_str(), &cc);
    if (rc == 0) rc = krb5_cc_initialize(ctx, cc, accepted.ticket->creds.client);
    if (rc == 0) rc = krb5_cc_store_cred(ctx, cc, &accepted.ticket->creds);
    if (cc != nullptr) krb5_cc_close(ctx, cc);
    if (rc != 0) {
      return core::error(Status::unavailable(options_.what + "writing the ticket to " + where->keyring + ": " +
                                             message(ctx, rc)));
    }
    return where->keyring;
  }
  // libkrb5 writes FILE: caches by name only: into root's private folder,
  // whose bytes then go to the user's file through its descriptor.
  char tmpl[] = "/tmp/fastid-krb5-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);  // mode 0700, root's: nobody else can enter
  if (dir == nullptr) return core::error(Status::unavailable(options_.what + "mkdtemp: " + std::strerror(errno)));
  const std::string file = std::string(dir) + "/cc";
  const std::string name = "FILE:" + file;
  krb5_ccache cc = nullptr;
  krb5_error_code rc = krb5_cc_resolve(ctx, name.c_str(), &cc);
  if (rc == 0) rc = krb5_cc_initialize(ctx, cc, accepted.ticket->creds.client);
  if (rc == 0) rc = krb5_cc_store_cred(ctx, cc, &accepted.ticket->creds);
  if (cc != nullptr) krb5_cc_close(ctx, cc);
  // Read into one buffer of a fixed size (a cache of one ticket is a few
  // KiB), wiped afterwards: no stream buffers left holding the session key.
  std::string bytes(64 * 1024, '\0');
  std::size_t size = 0;
  if (rc == 0) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    for (ssize_t n = 1; fd >= 0 && n > 0 && size < bytes.size(); size += static_cast<std::size_t>(n)) {
      n = ::read(fd, bytes.data() + size, bytes.size() - size);
      if (n < 0) n = 0;
    }
    if (fd >= 0) ::close(fd);
    if (fd < 0 || size == 0 || size == bytes.size()) rc = KRB5_CC_IO;
  }
  ::unlink(file.c_str());
  ::rmdir(dir);
  if (rc != 0) return core::error(Status::internal(options_.what + "writing the ticket: " + message(ctx, rc)));
  auto made = create_user_cache(*where, std::string_view(bytes.data(), size), uid, gid);
  ::explicit_bzero(bytes.data(), bytes.size());  // the session key
  return made;
}

core::Result<model::PasswordChange> PasswordCheck::change_password(std::string_view user,
                                                                   std::string_view old_password,
                                                                   std::string_view new_password) {
  using model::PasswordChange;
  using model::PasswordChangeVerdict;
  const std::string& pre = options_.what;
  if (Status st = check(); !st) return core::error(st);
  if (!plain_name(user)) return core::error(Status::not_found(pre + "not a plain principal name"));
  if (old_password.empty()) return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "password rejected"};
  if (new_password.empty()) return PasswordChange{PasswordChangeVerdict::kNewPasswordRefused, "the new password is empty"};
  krb5_context ctx = h_->ctx.get();
  const auto built = principal_named(ctx, h_->realm, std::string(user), pre);
  if (!built) return core::error(built.error());
  krb5_principal client = *built;
  const std::string who = principal_of(user);
  krb5_creds changepw{};
  krb5_error_code rc;
  {
    CString old_secret(old_password);
    rc = initial_ticket(ctx, client, old_secret.get(), "kadmin/changepw", &changepw);
  }
  krb5_free_principal(ctx, client);
  if (rc != 0) {
    const std::string why = message(ctx, rc);
    if (kdc_unreachable(rc)) return core::error(Status::unavailable(pre + "no KDC of realm " + h_->realm + " answered: " + why));
    if (rc == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN) return core::error(Status::not_found(pre + who + " is not known to the KDC"));
    if (rc == KRB5KDC_ERR_PREAUTH_FAILED || rc == KRB5KRB_AP_ERR_BAD_INTEGRITY) {
      return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "the current password is wrong"};
    }
    if (rc == KRB5KDC_ERR_CLIENT_REVOKED) {
      return PasswordChange{PasswordChangeVerdict::kDenied, "the Kerberos principal is disabled or locked out"};
    }
    return PasswordChange{PasswordChangeVerdict::kDenied, "the KDC refused the password change: " + why};
  }
  int result = 0;
  krb5_data result_code_string{}, result_string{};
  {
    CString new_secret(new_password);
    rc = krb5_change_password(ctx, &changepw, new_secret.get(), &result, &result_code_string, &result_string);
  }
  krb5_free_cred_contents(ctx, &changepw);
  if (rc != 0) {
    return core::error(Status::unavailable(pre + "kpasswd for " + who + ": " + message(ctx, rc)));
  }
  // kadmind's reason, in words (krb5_chpw_message reads Active Directory's
  // policy blob too), else the result code's own text.
  std::string reason;
  char* words = nullptr;
  if (krb5_chpw_message(ctx, &result_string, &words) == 0 && words != nullptr) {
    krb5_data d{};
    d.data = words;
    d.length = static_cast<unsigned>(std::strlen(words));
    reason = text_of(d);
    krb5_free_string(ctx, words);
  }
  if (reason.empty()) reason = text_of(result_code_string);
  krb5_free_data_contents(ctx, &result_code_string);
  krb5_free_data_contents(ctx, &result_string);
  if (result == KRB5_KPASSWD_SOFTERROR) {
    return PasswordChange{PasswordChangeVerdict::kNewPasswordRefused,
                          reason.empty() ? "the new password was refused by the realm's policy" : reason};
  }
  if (result != KRB5_KPASSWD_SUCCESS) {
    core::log_warning(pre + "kpasswd refused the change for " + who + ": code " + std::to_string(result) + ", " +
                      reason);
    return PasswordChange{PasswordChangeVerdict::kDenied, "the password change was refused: " + reason};
  }
  // The change is the real KDC's only if the new password now buys a
  // ticket that verifies against the keytab: a KDC and kpasswd server that
  // are not the realm's could say "changed" to anything.
  Outcome proof = check_password(user, new_password);
  if (proof.unverified) {
    core::log_error(pre + "kpasswd said the password of " + who + " changed, but the new password's ticket "
                    "does not verify against krb5_keytab " + options_.keytab + ": not a change by the realm's KDC");
    return PasswordChange{PasswordChangeVerdict::kDenied, "the password change could not be verified"};
  }
  if (!proof.status && !proof.password_expired) {
    core::log_warning(pre + "the new password of " + who + " does not buy a ticket yet: " + proof.status.message());
  }
  return PasswordChange{PasswordChangeVerdict::kChanged, "Kerberos password changed"};
}

Status PasswordCheck::kdc_reachable() {
  const std::string& pre = options_.what;
  if (Status st = check(); !st) return st;
  krb5_context ctx = h_->ctx.get();
  if (h_->keytab_principal == nullptr) {
    krb5_kt_cursor cursor{};
    krb5_keytab_entry entry{};
    krb5_error_code rc = krb5_kt_start_seq_get(ctx, h_->keytab, &cursor);
    if (rc == 0) {
      rc = krb5_kt_next_entry(ctx, h_->keytab, &entry, &cursor);
      if (rc == 0) {
        rc = krb5_copy_principal(ctx, entry.principal, &h_->keytab_principal);
        krb5_kt_free_entry(ctx, &entry);
      }
      krb5_kt_end_seq_get(ctx, h_->keytab, &cursor);
    }
    if (rc != 0) return Status::invalid_argument(pre + "krb5_keytab " + options_.keytab + ": " + message(ctx, rc));
  }
  krb5_creds creds{};
  const krb5_error_code rc =
      krb5_get_init_creds_keytab(ctx, &creds, h_->keytab_principal, h_->keytab, 0, nullptr, nullptr);
  if (rc == 0) krb5_free_cred_contents(ctx, &creds);
  if (kdc_unreachable(rc)) {
    return Status::unavailable(pre + "no KDC of realm " + h_->realm + " answered: " + message(ctx, rc));
  }
  return Status::ok();
}

}  // namespace fastid::providers::krb5
