// Small shared pieces of fastid's libkrb5 users (keytab_credentials,
// password_check): a context handle that frees itself, libkrb5's own words
// for an error code, and which codes mean "no KDC answered" (an outage, so
// the provider is offline) rather than a refusal.
#pragma once

#include <krb5/krb5.h>

#include <string>

namespace fastid::providers::krb5 {

// A krb5_context freed on destruction; ok() false when krb5_init_context failed.
class Context {
 public:
  Context() : code_(krb5_init_context(&ctx_)) {}
  ~Context() {
    if (ctx_ != nullptr) krb5_free_context(ctx_);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  bool ok() const { return ctx_ != nullptr && code_ == 0; }
  krb5_error_code init_error() const { return code_; }
  krb5_context get() const { return ctx_; }

 private:
  krb5_context ctx_ = nullptr;
  krb5_error_code code_ = 0;
};

// libkrb5's message for `code` (with the details it kept on `ctx`), made printable.
std::string message(krb5_context ctx, krb5_error_code code);

// No KDC of the realm could be reached: an outage, not a refusal.
bool kdc_unreachable(krb5_error_code code);

}  // namespace fastid::providers::krb5
