// Krb5AuthProvider (krb5_auth_provider.h): the KDC checks passwords, the
// wrapped provider answers everything else.
#include "providers/krb5/krb5_auth_provider.h"

#include "core/log.h"
#include "providers/krb5/user_cache.h"
#include "providers/record_rules.h"

namespace fastid::providers {

Krb5AuthProvider::Krb5AuthProvider(std::unique_ptr<Provider> inner, Options options)
    : inner_(std::move(inner)),
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

Status Krb5AuthProvider::authenticate(std::string_view user, std::string_view password) {
  // The user must be one this provider serves: its uid owns the cache.
  auto entry = inner_->user_by_name(user);
  if (!entry) return entry.error();
  auto outcome = check_.check_password(user, password);
  if (!outcome.status) {
    if (outcome.status.code() == core::Code::kPermissionDenied) ++kdc_rejected_;
    if (outcome.unverified) ++unverified_;
    // Said only once the old password proved right (password_check.h).
    if (outcome.password_expired) core::log_warning("provider " + name() + ": " + outcome.status.message());
    return outcome.status;
  }
  ++kdc_accepted_;
  last_cache_.clear();
  if (options_.ccache.empty()) return Status::ok();
  auto cache = check_.write_cache(outcome, options_.ccache, entry->uid, entry->gid);
  if (!cache) {
    // The password is right; the login goes on without a ticket, and says why.
    core::log_error("provider " + name() + ": no ticket cache for \"" + printable(user) +
                    "\": " + cache.error().message());
    return Status::ok();
  }
  ++caches_written_;
  last_cache_ = *cache;
  core::log_info("provider " + name() + ": ticket of \"" + printable(user) + "\" in " + *cache);
  return Status::ok();
}

std::vector<std::pair<std::string, std::string>> Krb5AuthProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("krb5_accepted", std::to_string(kdc_accepted_));
  out.emplace_back("krb5_rejected", std::to_string(kdc_rejected_));
  out.emplace_back("krb5_unverified", std::to_string(unverified_));
  out.emplace_back("krb5_caches_written", std::to_string(caches_written_));
  return out;
}

}  // namespace fastid::providers
