// A user's simple bind with the password policy request control
// (draft-behera-ldap-password-policy): slapd's ppolicy overlay answers a
// successful bind with a warning when the password expires soon
// (timeBeforeExpiration) or, once it has expired, with the grace logins left
// (graceAuthNsRemaining). The authentication turns them into words for the
// user (PAM_TEXT_INFO) or into "the password must be changed now", as
// pam_ldap and SSSD do. libldap's bind answer only; no state.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "model/records.h"

struct ldap;

namespace fastid::providers::ldap {

// What the server's password policy control said of a bind (-1: nothing).
struct BindPolicyNotice {
  int seconds_before_expiration = -1;
  int grace_logins_left = -1;
};

// A simple bind as `dn` with the policy request control, waiting at most
// `timeout` for the answer. Returns the bind's LDAP result code
// (LDAP_SUCCESS, LDAP_INVALID_CREDENTIALS, ..., LDAP_TIMEOUT when none came);
// `notice` gets what the response control said.
int simple_bind_with_policy(::ldap* ld, const std::string& dn, std::string_view password,
                            std::chrono::milliseconds timeout, BindPolicyNotice* notice);

// The account state a successful bind's notice implies: grace logins left →
// kPasswordExpired ("change it now"); an expiry warning → kOk with
// expiry_warning(days); nothing → kOk without words.
model::Account account_of_notice(const BindPolicyNotice& notice);

}  // namespace fastid::providers::ldap
