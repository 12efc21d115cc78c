// Krb5AuthProvider (krb5_auth_provider.h): the KDC checks passwords, the
// wrapped provider answers everything else.
#include "providers/krb5/krb5_auth_provider.h"

#include "core/log.h"
#include "providers/krb5/user_cache.h"
#include "providers/record_rules.h"

namespace fastid::providers {

Krb5AuthProvider::Krb5AuthProvider(std::unique_ptr<Provider> inner, Options options)
    : WrappingProvider(std::move(inner)),
      options_(std::move(options)),
      check_({.realm = options_.realm, .keytab = options_.keytab, .what = "krb5: "}) {}

Status Krb5AuthProvider::open() {
  // Settings first: a wrong keytab is wrong whether the directory answers or not.
  if (Status st = check_.check(); !st) return st;
  if (!options_.ccache.empty()) {
    if (auto where = krb5::parse_cache_pattern(options_.ccache, 0); !where) return where.error();
  }
  return inner_->open();
}

Result<Answer> Krb5AuthProvider::lookup(const Query& query) {
  auto answer = inner_->lookup(query);
  const bool probe = query.kind == model::Kind::kUserByUid && query.id == 0;
  if (!probe || (!answer && answer.error().code() != core::Code::kNotFound)) return answer;
  if (Status st = check_.kdc_reachable(); st.code() == core::Code::kUnavailable) return core::error(st);
  return answer;
}

Status Krb5AuthProvider::authenticate(std::string_view user, std::string_view password) {
  auto verdict = authenticate_verdict(user, password);
  if (!verdict) return verdict.error();
  if (verdict->verdict != model::AccountVerdict::kOk) return Status::permission_denied(verdict->message);
  return Status::ok();
}

Result<model::Account> Krb5AuthProvider::authenticate_verdict(std::string_view user, std::string_view password) {
  // The user must be one this provider serves: its uid owns the cache.
  auto entry = inner_->user_by_name(user);
  if (!entry) return core::error(entry.error());
  auto outcome = check_.check_password(user, password);
  if (!outcome.status) {
    if (outcome.status.code() == core::Code::kPermissionDenied) ++kdc_rejected_;
    if (outcome.unverified) ++unverified_;
    if (outcome.password_expired) {
      // Said only once the old password proved right (password_check.h):
      // the login goes on to acct_mgmt's PAM_NEW_AUTHTOK_REQD and chauthtok.
      core::log_warning("provider " + name() + ": " + outcome.status.message());
      return model::Account{model::AccountVerdict::kPasswordExpired, "your Kerberos password has expired"};
    }
    return core::error(outcome.status);
  }
  ++kdc_accepted_;
  last_cache_.clear();
  if (options_.ccache.empty()) return model::Account{};
  auto cache = check_.write_cache(outcome, options_.ccache, entry->uid, entry->gid);
  if (!cache) {
    // The password is right; the login goes on without a ticket, and says why.
    core::log_error("provider " + name() + ": no ticket cache for \"" + printable(user) +
                    "\": " + cache.error().message());
    return model::Account{};
  }
  ++caches_written_;
  last_cache_ = *cache;
  core::log_info("provider " + name() + ": ticket of \"" + printable(user) + "\" in " + *cache);
  return model::Account{model::AccountVerdict::kOk, "", *cache};
}

Result<model::Account> Krb5AuthProvider::account(std::string_view user) {
  auto verdict = inner_->account(user);
  if (verdict) return verdict;
  const core::Code code = verdict.error().code();
  if (code != core::Code::kNotFound && code != core::Code::kInvalidArgument) return verdict;
  auto known = inner_->user_by_name(user);
  if (!known) return core::error(known.error());
  return model::Account{};
}

Result<model::PasswordChange> Krb5AuthProvider::change_password(std::string_view user, std::string_view old_password,
                                                                std::string_view new_password) {
  // Only users this provider serves; both empty: would we change it? Yes.
  auto known = inner_->lookup(Query::user_by_name(std::string(user)));
  if (!known) return core::error(known.error());
  if (old_password.empty() && new_password.empty()) return model::PasswordChange{};
  auto changed = check_.change_password(user, old_password, new_password);
  if (changed && changed->verdict == model::PasswordChangeVerdict::kChanged) ++password_changes_;
  return changed;
}

std::vector<std::pair<std::string, std::string>> Krb5AuthProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("krb5_accepted", std::to_string(kdc_accepted_));
  out.emplace_back("krb5_rejected", std::to_string(kdc_rejected_));
  out.emplace_back("krb5_unverified", std::to_string(unverified_));
  out.emplace_back("krb5_caches_written", std::to_string(caches_written_));
  out.emplace_back("krb5_password_changes", std::to_string(password_changes_));
  return out;
}

}  // namespace fastid::providers
