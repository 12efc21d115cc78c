// Password expiry: when a password that is still valid expires, and the
// warning the account check gives before it does (PAM_TEXT_INFO, the way
// pam_unix and SSSD warn). Two sources of aging, both read by the account
// check without the user's password: shadow(5) fields (a shadow file, or the
// shadowAccount attributes of a directory entry) in days since 1970, and
// slapd's password policy (draft-behera-ldap-password-policy: the entry's
// pwdChangedTime and its policy's pwdMaxAge and pwdExpireWarning) in seconds.
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastid::providers {

// Days until a shadow password expires, when `today` lies inside its warning
// period: last_change > 0, max_days >= 0, warn_days > 0 and
// 0 <= last_change + max_days - today <= warn_days. nullopt otherwise (no
// aging, no warning period, not yet inside it, or already expired: that is
// the verdict's business, not a warning's). -1 means an empty field.
std::optional<std::int64_t> shadow_days_to_expiry(std::int64_t today, std::int64_t last_change,
                                                  std::int64_t max_days, std::int64_t warn_days);

// A ppolicy password's state at `now` (seconds since 1970): `changed` is
// pwdChangedTime, `max_age` and `expire_warning` the policy's pwdMaxAge and
// pwdExpireWarning in seconds (0 or less: no expiry, no warning). Expired
// once more than max_age has passed; warned from expire_warning before.
struct PolicyExpiry {
  enum class State : std::uint8_t { kNone, kWarning, kExpired };
  State state = State::kNone;
  std::int64_t seconds_left = 0;  // kWarning: until it expires
  std::int64_t expires_at = 0;    // kWarning, kExpired: changed + max_age
};
PolicyExpiry ppolicy_expiry(std::int64_t now, std::int64_t changed, std::int64_t max_age,
                            std::int64_t expire_warning);

// An LDAP GeneralizedTime in UTC ("20261205043000Z", optional fraction
// ".123"; the form slapd writes for pwdChangedTime) as seconds since 1970.
// nullopt for anything else (another zone, out-of-range fields, junk).
std::optional<std::int64_t> parse_generalized_time(std::string_view text);

// What the user reads: "Your password will expire in 5 days." ("in 1 day",
// "today" for 0).
std::string expiry_warning(std::int64_t days);

}  // namespace fastid::providers
