// The Password Modify extended operation as the bound user (ldap_password.h).
#include "providers/ldap/ldap_password.h"

#include <lber.h>
#include <ldap.h>
#include <strings.h>

#include <string>

#include "providers/ldap/ldap_values.h"

namespace fastid::providers::ldap {

namespace {

using model::PasswordChange;
using model::PasswordChangeVerdict;

// The server's words, printable and bounded: they reach the user's terminal.
std::string reason_of(int err, LDAPPasswordPolicyError policy, const char* text) {
  std::string out = policy != PP_noError ? ldap_passwordpolicy_err2txt(policy) : ldap_err2string(err);
  if (text != nullptr && *text != '\0' && out != text) out += ": " + printable(std::string_view(text));
  if (out.size() > 300) out.resize(300);
  return out;
}

bool connection_error(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE ||
         rc == LDAP_BUSY;
}

}  // namespace

core::Result<PasswordChange> modify_own_password(::ldap* bound, std::string_view old_password,
                                                 std::string_view new_password, std::chrono::milliseconds timeout) {
  // libldap only reads the values (it BER-encodes them into its own buffer).
  berval old_value{old_password.size(), const_cast<char*>(old_password.data())};
  berval new_value{new_password.size(), const_cast<char*>(new_password.data())};
  LDAPControl* policy_request = nullptr;
  (void)ldap_create_passwordpolicy_control(bound, &policy_request);
  LDAPControl* server_controls[2] = {policy_request, nullptr};
  int msgid = 0;
  int rc = ldap_passwd(bound, /*user=*/nullptr, &old_value, &new_value,
                       policy_request != nullptr ? server_controls : nullptr, nullptr, &msgid);
  if (policy_request != nullptr) ldap_control_free(policy_request);
  if (rc != LDAP_SUCCESS) {
    return core::error(core::Status::unavailable(std::string("ldap: password modify not sent: ") +
                                                 ldap_err2string(rc)));
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  LDAPMessage* result = nullptr;
  rc = ldap_result(bound, msgid, LDAP_MSG_ALL, &tv, &result);
  if (rc == 0) {
    ldap_msgfree(result);
    return core::error(core::Status::timeout("ldap: no answer to the password modify operation"));
  }
  if (rc < 0) {
    return core::error(core::Status::unavailable("ldap: password modify: connection lost"));
  }
  int err = LDAP_OTHER;
  char* text = nullptr;
  LDAPControl** controls = nullptr;
  rc = ldap_parse_result(bound, result, &err, nullptr, &text, nullptr, &controls, /*freeit=*/1);
  if (rc != LDAP_SUCCESS) {
    ldap_memfree(text);
    ldap_controls_free(controls);
    return core::error(core::Status::unavailable(std::string("ldap: password modify: unreadable result: ") +
                                                 ldap_err2string(rc)));
  }
  LDAPPasswordPolicyError policy = PP_noError;
  if (controls != nullptr) {
    if (LDAPControl* c = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, controls, nullptr)) {
      ber_int_t expire = -1, grace = -1;
      if (ldap_parse_passwordpolicy_control(bound, c, &expire, &grace, &policy) != LDAP_SUCCESS) policy = PP_noError;
    }
  }
  const std::string reason = reason_of(err, policy, text);
  ldap_memfree(text);
  ldap_controls_free(controls);
  if (err == LDAP_SUCCESS) return PasswordChange{PasswordChangeVerdict::kChanged, ""};
  if (connection_error(err)) return core::error(core::Status::unavailable("ldap: password modify: " + reason));
  if (err == LDAP_INVALID_CREDENTIALS) {
    return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "the current password is not right"};
  }
  if (err == LDAP_INSUFFICIENT_ACCESS || policy == PP_passwordModNotAllowed || policy == PP_accountLocked) {
    return PasswordChange{PasswordChangeVerdict::kDenied, "the directory does not let you change your password: " + reason};
  }
  return PasswordChange{PasswordChangeVerdict::kNewPasswordRefused, reason};
}

bool has_shadow_account(const std::vector<std::string>* object_classes) {
  if (object_classes == nullptr) return false;
  for (const auto& c : *object_classes) {
    if (c.size() == 13 && ::strncasecmp(c.c_str(), "shadowAccount", 13) == 0) return true;
  }
  return false;
}

core::Status update_shadow_last_change(::ldap* bound, const std::string& dn, std::int64_t today,
                                       std::chrono::milliseconds timeout) {
  std::string day = std::to_string(today);
  char* values[2] = {day.data(), nullptr};
  char attr[] = "shadowLastChange";
  LDAPMod mod{};
  mod.mod_op = LDAP_MOD_REPLACE;
  mod.mod_type = attr;
  mod.mod_values = values;
  LDAPMod* mods[2] = {&mod, nullptr};
  int msgid = 0;
  int rc = ldap_modify_ext(bound, dn.c_str(), mods, nullptr, nullptr, &msgid);
  if (rc != LDAP_SUCCESS) return core::Status::unavailable(std::string("modify not sent: ") + ldap_err2string(rc));
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  LDAPMessage* result = nullptr;
  rc = ldap_result(bound, msgid, LDAP_MSG_ALL, &tv, &result);
  if (rc == 0) {
    ldap_msgfree(result);
    return core::Status::timeout("no answer to the modify operation");
  }
  if (rc < 0) return core::Status::unavailable("modify: connection lost");
  int err = LDAP_OTHER;
  char* text = nullptr;
  rc = ldap_parse_result(bound, result, &err, nullptr, &text, nullptr, nullptr, /*freeit=*/1);
  const std::string reason = reason_of(rc == LDAP_SUCCESS ? err : rc, PP_noError, text);
  ldap_memfree(text);
  if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
    return core::Status::permission_denied("the directory refused the modify of " + printable(dn) + ": " + reason);
  }
  return core::Status::ok();
}

}  // namespace fastid::providers::ldap
