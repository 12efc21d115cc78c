// Shared libkrb5 helpers (krb5_util.h).
#include "providers/krb5/krb5_util.h"

#include <cerrno>

#include "providers/record_rules.h"

namespace fastid::providers::krb5 {

std::string message(krb5_context ctx, krb5_error_code code) {
  const char* text = krb5_get_error_message(ctx, code);
  std::string out = text != nullptr ? text : "Kerberos error " + std::to_string(code);
  if (text != nullptr) krb5_free_error_message(ctx, text);
  return printable(out);
}

bool kdc_unreachable(krb5_error_code code) {
  return code == KRB5_KDC_UNREACH || code == KRB5_REALM_CANT_RESOLVE || code == KRB5KRB_ERR_RESPONSE_TOO_BIG ||
         code == ETIMEDOUT || code == ECONNREFUSED || code == EHOSTUNREACH || code == ENETUNREACH;
}

}  // namespace fastid::providers::krb5
