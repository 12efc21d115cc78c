// The LDAP Password Modify extended operation (RFC 3062) on a connection that
// is already bound as the user: the user changes their own password. No user
// identity is sent, so the server changes the password of the bound entry and
// of no other; the old password is sent too, so that the server checks it
// again. The password policy control (draft-behera-ldap-password-policy) is
// requested, so that a refusal by slapd's ppolicy overlay (too short, in the
// history, too young) comes back with its reason for the user. Then, for a
// shadowAccount entry, shadowLastChange is set to the day of the change.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/records.h"

struct ldap;

namespace fastid::providers::ldap {

// kChanged, kOldPasswordRejected, kNewPasswordRefused (with the directory's
// reason) or kDenied (the directory does not let the user write the
// password); errors: kUnavailable or kTimeout when the server did not answer.
// `timeout` bounds the wait for the result.
core::Result<model::PasswordChange> modify_own_password(::ldap* bound, std::string_view old_password,
                                                        std::string_view new_password,
                                                        std::chrono::milliseconds timeout);

// Whether an entry's objectClass values name shadowAccount (any case).
bool has_shadow_account(const std::vector<std::string>* object_classes);

// After a change: the bound user's own entry `dn` gets shadowLastChange =
// `today` (days since 1970), so that shadow aging (shadowMax, shadowWarning)
// counts from the new password. The directory must let users write their own
// shadowLastChange (docs/ldap.md); a refusal is an error for the log, the
// password stays changed. `timeout` bounds the wait.
core::Status update_shadow_last_change(::ldap* bound, const std::string& dn, std::int64_t today,
                                       std::chrono::milliseconds timeout);

}  // namespace fastid::providers::ldap
