// Krb5AuthProvider: a provider whose passwords the KDC checks (auth_provider
// = "krb5", docs/kerberos.md). It wraps any provider (ldap, files …): lookups
// and account checks are the wrapped one's; authenticate() looks the user up
// there (a user this provider does not serve is not found, whatever the KDC
// knows), has the KDC check the password with a ticket verified against the
// host keytab (password_check.h), and writes that ticket to a new credential
// cache owned by the user (user_cache.h, krb5_ccache). It blocks: the
// provider factory builds it only for providers that run in the pool.
#pragma once

#include <memory>
#include <string>

#include "providers/krb5/password_check.h"
#include "providers/provider.h"
#include "providers/wrapping_provider.h"

namespace fastid::providers {

class Krb5AuthProvider final : public WrappingProvider {
 public:
  struct Options {
    std::string realm = {};      // "" = krb5.conf's default_realm
    std::string keytab = {};     // host keytab logins are verified against
    std::string ccache = {};     // "FILE:/tmp/krb5cc_%U_XXXXXX"; "" = no cache is written
  };

  Krb5AuthProvider(std::unique_ptr<Provider> inner, Options options);

  // The wrapped provider's open, and the KDC settings (realm, keytab, cache pattern) checked.
  Status open() override;
  // The wrapped provider's answer; for the probe's question (uid 0, which no
  // directory serves: Directory::probe), also whether a KDC answers, so that
  // a KDC outage makes the provider offline and offline credentials apply.
  Result<Answer> lookup(const Query& query) override;
  Status authenticate(std::string_view user, std::string_view password) override;
  // authenticate(), with the login's cache in the verdict (model::Account::ccache,
  // KRB5CCNAME for the session) and an expired password (proved right by a
  // kadmin/changepw ticket) as kPasswordExpired: PAM_NEW_AUTHTOK_REQD, then chauthtok.
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  // The wrapped provider's verdict; for a user it serves but holds no
  // account data of (a files user with no shadow line: the password is the
  // KDC's), in order — the KDC refuses disabled and expired principals at
  // the login itself.
  Result<model::Account> account(std::string_view user) override;
  // The KDC holds the passwords: a change goes through kpasswd
  // (PasswordCheck::change_password), never to the directory behind.
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;
  std::vector<std::pair<std::string, std::string>> stats() const override;

  // The cache written by the last successful authenticate() ("" if none), for tests.
  const std::string& last_cache() const { return last_cache_; }

 private:
  Options options_;
  krb5::PasswordCheck check_;
  std::string last_cache_;
  std::uint64_t kdc_accepted_ = 0, kdc_rejected_ = 0, unverified_ = 0, caches_written_ = 0, password_changes_ = 0;
};

}  // namespace fastid::providers
