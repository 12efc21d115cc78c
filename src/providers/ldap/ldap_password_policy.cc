// The LDAP provider's reading of a ppolicy password's age for the account
// check (password_policy_expiry): the policy entry named by the user's entry,
// or the configured default, one base search (docs/ldap.md, "Expiry warnings").
#include <chrono>

#include "core/log.h"
#include "providers/ldap/ldap_provider_impl.h"
#include "providers/password_expiry.h"

namespace fastid::providers {

Result<PolicyExpiry> LdapProvider::password_policy_expiry(const std::string& changed_time,
                                                          const std::string& policy_subentry) {
  if (changed_time.empty()) return PolicyExpiry{};  // never set under a policy: no age
  const std::string& dn = policy_subentry.empty() ? options_.password_policy_dn : policy_subentry;
  if (dn.empty()) return PolicyExpiry{};
  const auto changed = parse_generalized_time(changed_time);
  if (!changed) {
    core::log_warning(Impl::log_prefix(*this) + "pwdChangedTime \"" + printable(changed_time) +
                      "\" is not a time; ignored");
    return PolicyExpiry{};
  }
  auto policy = Impl::search(*this, dn, Scope::kBase, "(objectClass=*)", {"pwdMaxAge", "pwdExpireWarning"});
  if (!policy) return core::error(policy.error());
  if (policy->empty()) {
    core::log_warning(Impl::log_prefix(*this) + "password policy " + printable(dn) + " not found; no expiry");
    return PolicyExpiry{};
  }
  auto seconds = [&](const char* attr) -> std::int64_t {
    auto v = ldap::parse_days(policy->front().first(attr));  // a decimal count, as the shadow fields
    return v ? *v : 0;
  };
  const std::int64_t now =
      now_for_test_ ? *now_for_test_
                    : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return ppolicy_expiry(now, *changed, seconds("pwdmaxage"), seconds("pwdexpirewarning"));
}

}  // namespace fastid::providers
