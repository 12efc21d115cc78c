// A user's bind with the password policy control (ldap_bind_policy.h).
#include "providers/ldap/ldap_bind_policy.h"

#include <lber.h>
#include <ldap.h>

#include "providers/password_expiry.h"

namespace fastid::providers::ldap {

int simple_bind_with_policy(::ldap* ld, const std::string& dn, std::string_view password,
                            std::chrono::milliseconds timeout, BindPolicyNotice* notice) {
  *notice = BindPolicyNotice{};
  berval cred{password.size(), const_cast<char*>(password.data())};  // libldap only reads it
  LDAPControl* request = nullptr;
  (void)ldap_create_passwordpolicy_control(ld, &request);
  LDAPControl* controls[2] = {request, nullptr};
  int msgid = 0;
  int rc = ldap_sasl_bind(ld, dn.empty() ? nullptr : dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                          request != nullptr ? controls : nullptr, nullptr, &msgid);
  if (request != nullptr) ldap_control_free(request);
  if (rc != LDAP_SUCCESS) return rc;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  LDAPMessage* result = nullptr;
  rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &result);
  if (rc == 0) {
    ldap_msgfree(result);
    return LDAP_TIMEOUT;
  }
  if (rc < 0) {
    int err = LDAP_SERVER_DOWN;
    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
    return err == LDAP_SUCCESS ? LDAP_SERVER_DOWN : err;
  }
  int err = LDAP_OTHER;
  LDAPControl** answer = nullptr;
  rc = ldap_parse_result(ld, result, &err, nullptr, nullptr, nullptr, &answer, /*freeit=*/1);
  if (rc != LDAP_SUCCESS) {
    ldap_controls_free(answer);
    return rc;
  }
  if (answer != nullptr) {
    if (LDAPControl* c = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, answer, nullptr)) {
      ber_int_t expire = -1, grace = -1;
      LDAPPasswordPolicyError policy = PP_noError;
      if (ldap_parse_passwordpolicy_control(ld, c, &expire, &grace, &policy) == LDAP_SUCCESS) {
        notice->seconds_before_expiration = expire;
        notice->grace_logins_left = grace;
      }
    }
    ldap_controls_free(answer);
  }
  // The result code also lands where describe() reads it (ldap_get_option).
  ldap_set_option(ld, LDAP_OPT_RESULT_CODE, &err);
  return err;
}

model::Account account_of_notice(const BindPolicyNotice& notice) {
  if (notice.grace_logins_left >= 0) {
    return {model::AccountVerdict::kPasswordExpired,
            "Your password has expired; " + std::to_string(notice.grace_logins_left) +
                " grace login(s) left. Change it now."};
  }
  if (notice.seconds_before_expiration >= 0) {
    return {model::AccountVerdict::kOk, expiry_warning(notice.seconds_before_expiration / 86400)};
  }
  return {};
}

}  // namespace fastid::providers::ldap
