// The LDAP provider's calls for one user's credentials and account: a simple
// bind as the user (authenticate), the Password Modify operation
// (change_password) and the account check (lock attributes, access_filter,
// pwdReset, shadow fields, the password's expiry and its warning).
#include <ldap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/log.h"
#include "providers/ldap/ldap_bind_policy.h"
#include "providers/ldap/ldap_password.h"
#include "providers/ldap/ldap_provider_impl.h"
#include "providers/password_expiry.h"

namespace fastid::providers {

namespace {

std::int64_t today_in_days() {
  using namespace std::chrono;
  return duration_cast<days>(system_clock::now().time_since_epoch()).count();
}

std::string date_of_day(std::int64_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// The lock attributes an account check and an authentication read.
const std::vector<std::string> kLockAttrs = {"nsAccountLock", "pwdAccountLockedTime"};
// pwdAccountLockedTime's value for "locked until an administrator unlocks it"
// (draft-behera-ldap-password-policy): no bind can clear it.
constexpr std::string_view kLockedForever = "000001010000Z";

enum class Lock { kNone, kTimed, kPermanent };

// nsAccountLock TRUE (389-ds, FreeIPA): disabled. pwdAccountLockedTime (the
// ppolicy overlay): locked forever, or since a time after which the overlay
// lets the next right password in and removes the attribute.
Lock lock_of(const Entry& e, std::string* why) {
  if (const auto* v = e.values("nsaccountlock")) {
    for (const auto& value : *v) {
      if (lowered(value) == "true") {
        *why = "account disabled in the directory (nsAccountLock)";
        return Lock::kPermanent;
      }
    }
  }
  if (const auto* v = e.values("pwdaccountlockedtime")) {
    if (std::find(v->begin(), v->end(), kLockedForever) != v->end()) {
      *why = "account locked in the directory by an administrator (pwdAccountLockedTime)";
      return Lock::kPermanent;
    }
    *why = "account locked in the directory by its password policy since " + printable(v->front()) +
           " (pwdAccountLockedTime)";
    return Lock::kTimed;
  }
  return Lock::kNone;
}

}  // namespace

Status LdapProvider::authenticate(std::string_view user, std::string_view password) {
  if (!checked_) {
    if (Status st = check_options(); !st) return st;
  }
  // A simple bind on a fresh connection to the first URI that may carry a
  // password and answers; `tried` tells whether any URI could.
  bool tried = false;
  auto bind_as = [&](const std::string& dn, std::string_view secret) {
    Status last = Status::unavailable(Impl::prefix(*this) + "no URI answered");
    for (const auto& uri : options_.uris) {
      if (!options_.allow_cleartext_passwords && Impl::cleartext(*this, uri)) continue;
      tried = true;
      LDAP* ld = nullptr;
      Status st = Impl::make_handle(*this, uri, ld);
      if (st) st = Impl::connect_and_bind(*this, uri, ld, dn, secret, true, &last_bind_notice_);
      unbind(ld);
      last = st;
      if (st || st.code() != core::Code::kUnavailable) break;
    }
    return last;
  };
  last_bind_notice_ = {};
  auto entry = Impl::user_entry(*this, user, kLockAttrs);
  if (!entry) {
    // A name the directory does not know costs what a wrong password costs —
    // the same connection and one bind, as an entry that cannot exist and with
    // a password that is not the one typed — so that the time to refuse does
    // not tell which names exist.
    if (entry.error().code() == core::Code::kNotFound && !password.empty()) {
      (void)bind_as("cn=fastid-no-such-user," + options_.base, "fastid: no such user");
    }
    return entry.error();
  }
  // An empty password would make a simple bind "unauthenticated" and succeed.
  if (password.empty()) return Status::permission_denied(Impl::prefix(*this) + "empty password");
  std::string why;
  const Lock lock = lock_of(*entry, &why);
  if (lock == Lock::kPermanent) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: " + why);
    return Status::permission_denied(Impl::prefix(*this) + why);
  }
  const Status last = bind_as(entry->dn, password);
  if (!tried) {
    ++cleartext_refusals_;
    const std::string msg = "refusing to send the password of \"" + printable(user) +
                            "\" over an unencrypted connection (ldap:// without start_tls); use "
                            "ldaps:// or start_tls, or set allow_cleartext_passwords";
    core::log_error(Impl::log_prefix(*this) + msg);
    return Status::unavailable(Impl::prefix(*this) + msg);
  }
  if (!last.ok() || lock == Lock::kNone) return last;
  // A timed lock and a bind the server accepted: with the ppolicy overlay the
  // lock is over and the bind removed it. Still there: nothing enforces it
  // (no overlay on this server), so fastid does.
  auto again = Impl::search(*this, entry->dn, Scope::kBase, "(objectClass=*)", kLockAttrs);
  if (!again) return again.error();
  if (!again->empty() && lock_of(again->front(), &why) != Lock::kNone) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: " + why);
    return Status::permission_denied(Impl::prefix(*this) + why);
  }
  return Status::ok();
}

Result<model::Account> LdapProvider::authenticate_verdict(std::string_view user, std::string_view password) {
  if (Status st = authenticate(user, password); !st) return core::error(st);
  // What the directory's password policy said while it took the password.
  return ldap::account_of_notice(last_bind_notice_);
}

Result<model::PasswordChange> LdapProvider::change_password(std::string_view user, std::string_view old_password,
                                                             std::string_view new_password) {
  using model::PasswordChange;
  using model::PasswordChangeVerdict;
  if (!checked_) {
    if (Status st = check_options(); !st) return core::error(st);
  }
  std::vector<std::string> attrs = kLockAttrs;
  attrs.push_back("objectClass");
  auto entry = Impl::user_entry(*this, user, std::move(attrs));
  if (!entry) return core::error(entry.error());
  if (old_password.empty() && new_password.empty()) return PasswordChange{};  // preliminary: ours
  // An empty password would make the bind "unauthenticated" and succeed.
  if (old_password.empty()) return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "no current password"};
  if (new_password.empty()) return PasswordChange{PasswordChangeVerdict::kNewPasswordRefused, "the new password is empty"};
  std::string why;
  if (lock_of(*entry, &why) == Lock::kPermanent) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "password change of \"" + printable(user) + "\" refused: " + why);
    return PasswordChange{PasswordChangeVerdict::kDenied, why};
  }
  bool tried = false;
  Status last = Status::unavailable(Impl::prefix(*this) + "no URI answered");
  for (const auto& uri : options_.uris) {
    if (!options_.allow_cleartext_passwords && Impl::cleartext(*this, uri)) continue;
    tried = true;
    LDAP* ld = nullptr;
    Status st = Impl::make_handle(*this, uri, ld);
    if (st) st = Impl::connect_and_bind(*this, uri, ld, entry->dn, old_password, true);
    if (!st) {
      unbind(ld);
      last = st;
      if (st.code() == core::Code::kUnavailable) continue;
      if (st.code() != core::Code::kPermissionDenied) return core::error(st);
      core::log_warning(Impl::log_prefix(*this) + "password change of \"" + printable(user) +
                        "\" refused: the current password did not bind (" + st.message() + ")");
      return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "the current password is not right"};
    }
    // Bound as the user: the operation names no entry, so it can change no
    // password but the bound user's own.
    auto changed = ldap::modify_own_password(ld, old_password, new_password, options_.search_timeout);
    if (changed && changed->verdict == PasswordChangeVerdict::kChanged &&
        ldap::has_shadow_account(entry->values("objectclass"))) {
      // Shadow aging starts again today (as nslcd and SSSD do), written as the user.
      const std::int64_t today = today_for_test_ ? *today_for_test_ : today_in_days();
      if (Status shadow = ldap::update_shadow_last_change(ld, entry->dn, today, options_.search_timeout); !shadow) {
        core::log_warning(Impl::log_prefix(*this) + "password of \"" + printable(user) +
                          "\" changed, but shadowLastChange not updated: " + shadow.message());
      }
    }
    unbind(ld);
    if (!changed) return changed;
    if (changed->verdict == PasswordChangeVerdict::kChanged) {
      ++password_changes_;
      core::log_info(Impl::log_prefix(*this) + "password of \"" + printable(user) + "\" changed");
    } else {
      core::log_warning(Impl::log_prefix(*this) + "password change of \"" + printable(user) +
                        "\" refused by the directory: " + changed->message);
    }
    return changed;
  }
  if (!tried) {
    ++cleartext_refusals_;
    const std::string msg = "refusing to send the passwords of \"" + printable(user) +
                            "\" over an unencrypted connection (ldap:// without start_tls); use "
                            "ldaps:// or start_tls, or set allow_cleartext_passwords";
    core::log_error(Impl::log_prefix(*this) + msg);
    return core::error(Status::unavailable(Impl::prefix(*this) + msg));
  }
  return core::error(last);
}

model::Account LdapProvider::account_verdict(std::int64_t today, std::int64_t last_change,
                                             std::int64_t max_days, std::int64_t inactive,
                                             std::int64_t expire) {
  using model::AccountVerdict;
  if (expire >= 0 && today >= expire) {
    return {AccountVerdict::kExpired, "account expired on " + date_of_day(expire)};
  }
  if (last_change == 0) return {AccountVerdict::kPasswordExpired, "password change required"};
  if (last_change > 0 && max_days >= 0) {
    const std::int64_t age = today - last_change;
    if (inactive >= 0 && age > max_days + inactive) {
      return {AccountVerdict::kExpired, "account inactive since " + date_of_day(last_change + max_days + inactive)};
    }
    if (age > max_days) {
      return {AccountVerdict::kPasswordExpired, "password expired on " + date_of_day(last_change + max_days)};
    }
  }
  return {};
}

Result<model::Account> LdapProvider::account(std::string_view user) {
  FASTID_LDAP_READY();
  std::vector<std::string> attrs = {"shadowLastChange", "shadowMax",      "shadowInactive", "shadowExpire",
                                    "shadowWarning",    "pwdReset",       "pwdChangedTime", "pwdPolicySubentry"};
  attrs.insert(attrs.end(), kLockAttrs.begin(), kLockAttrs.end());
  auto entry = Impl::user_entry(*this, user, std::move(attrs));
  if (!entry) return core::error(entry.error());
  // A lock, timed or not, denies: a lock the overlay would lift at the next
  // right password still stands for logins without one (SSH keys) until then.
  if (std::string why; lock_of(*entry, &why) != Lock::kNone) {
    return model::Account{model::AccountVerdict::kDenied, why};
  }
  if (!options_.access_filter.empty()) {
    // The entry itself, read again with the filter: no match, no login.
    auto match = Impl::search(*this, entry->dn, Scope::kBase, options_.access_filter, {"1.1"});
    if (!match) return core::error(match.error());
    if (match->empty()) {
      core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: entry does not match access_filter " +
                        printable(options_.access_filter));
      return model::Account{model::AccountVerdict::kDenied, "access denied by access_filter"};
    }
  }
  // ppolicy: an administrator reset the password; the user must choose a new
  // one (the overlay clears the flag when the user changes it).
  if (lowered(entry->first("pwdreset")) == "true") {
    return model::Account{model::AccountVerdict::kPasswordExpired, "password reset by an administrator: change it now"};
  }
  auto field = [&](const char* attr) -> std::int64_t {
    const std::string v = entry->first(lowered(attr));
    auto d = parse_days(v);
    return d ? *d : -1;
  };
  const std::int64_t today = today_for_test_ ? *today_for_test_ : today_in_days();
  model::Account verdict = account_verdict(today, field("shadowLastChange"), field("shadowMax"),
                                           field("shadowInactive"), field("shadowExpire"));
  if (verdict.verdict != model::AccountVerdict::kOk) return verdict;
  // In order by shadow; the password policy's age, then the nearer warning.
  std::optional<std::int64_t> days_left =
      shadow_days_to_expiry(today, field("shadowLastChange"), field("shadowMax"), field("shadowWarning"));
  auto policy = password_policy_expiry(entry->first("pwdchangedtime"), entry->first("pwdpolicysubentry"));
  if (!policy) return core::error(policy.error());
  if (policy->state == PolicyExpiry::State::kExpired) {
    return model::Account{model::AccountVerdict::kPasswordExpired,
                          "password expired on " + date_of_day(policy->expires_at / 86400) + " (password policy)"};
  }
  if (policy->state == PolicyExpiry::State::kWarning) {
    const std::int64_t days = policy->seconds_left / 86400;
    if (!days_left || days < *days_left) days_left = days;
  }
  if (days_left) verdict.message = expiry_warning(*days_left);
  return verdict;
}

}  // namespace fastid::providers
