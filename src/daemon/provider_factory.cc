// Provider factory (provider_factory.h): from validated settings to a provider
// of the right type, and to a pool's options.
#include "daemon/provider_factory.h"

#include "providers/checked_provider.h"
#include "providers/files/files_provider.h"
#include "providers/krb5/krb5_auth_provider.h"
#include "providers/home_shell_rules.h"
#include "providers/remote/remote_provider.h"
#include "providers/ldap/ldap_provider.h"
#include "providers/slow/slow_provider.h"
#include "providers/winbind/winbind_provider.h"

namespace fastid::daemon {

using namespace providers;  // the provider types this file builds

namespace {
// The LDAP provider's options from its section (the pooled provider, and the
// front worker's own searches with async_lookups).
LdapProvider::Options ldap_options(const ProviderConfig& config) {
  return LdapProvider::Options{
      .name = config.name,
      .uris = config.uri,
      .base = config.base,
      .bind_dn = config.bind_dn,
      .bind_password = config.bind_password,
      .bind_password_file = config.bind_password_file,
      .tls_ca_file = config.tls_ca_file,
      .start_tls = config.start_tls,
      .schema = config.schema,
      .user_base = config.user_base,
      .user_scope = config.user_scope,
      .user_filter = config.user_filter,
      .group_base = config.group_base,
      .group_scope = config.group_scope,
      .group_filter = config.group_filter,
      .user_attributes = config.user_attributes,
      .group_attributes = config.group_attributes,
      .page_size = config.page_size,
      .nesting_depth = config.nesting_depth,
      .netgroup_base = config.netgroup_base,
      .netgroup_filter = config.netgroup_filter,
      .ssh_key_attribute = config.ssh_key_attribute,
      .network_timeout = config.network_timeout,
      .search_timeout = config.search_timeout,
      .allow_cleartext_passwords = config.allow_cleartext_passwords,
      .sasl_mech = config.sasl_mech,
      .keytab = config.keytab,
      .principal = config.principal,
      .access_filter = config.access_filter,
      .password_policy_dn = config.password_policy_dn,
  };
}

Result<std::unique_ptr<Provider>> make_directory_provider(const ProviderConfig& config) {
  if (config.type == "files") {
    return std::make_unique<FilesProvider>(FilesProvider::Options{
        .name = config.name,
        .passwd_path = config.passwd,
        .group_path = config.group,
        .shadow_path = config.shadow,
        .netgroup_path = config.netgroup,
    });
  }
  if (config.type == "slow") {
    return std::make_unique<SlowProvider>(SlowProvider::Options{
        .name = config.name,
        .users = static_cast<std::uint32_t>(config.users),  // the settings table keeps both >= 0
        .groups = static_cast<std::uint32_t>(config.groups),
        .delay = config.delay,
        .slow_names = config.slow_names,
        .slow_delay = config.slow_delay,
        .hang_names = config.hang_names,
        .crash_names = config.crash_names,
        .password = config.password,
        .down_file = config.down_file,
        .expired_names = config.expired_names,
        .call_log = config.call_log,
    });
  }
  // Directory-backed types answer through CheckedProvider: answers that match
  // their requests, valid records, ids in [min_id, max_id] and never 0.
  const IdRange ids{.min_id = config.min_id, .max_id = config.max_id};
  if (config.type == "fastid") {
    return std::make_unique<CheckedProvider>(std::make_unique<RemoteProvider>(RemoteProvider::Options{
                                                  .name = config.name,
                                                  .servers = config.servers,
                                                  .timeout = config.timeout,
                                                  .tls_ca_file = config.tls_ca_file,
                                                  .tls_server_name = config.tls_server_name,
                                              }),
                                              ids);
  }
  if (config.type == "ldap") {
    return std::make_unique<CheckedProvider>(std::make_unique<LdapProvider>(ldap_options(config)), ids);
  }
  if (config.type == "winbind") {
    return std::make_unique<CheckedProvider>(std::make_unique<WinbindProvider>(WinbindProvider::Options{
                                                 .name = config.name,
                                                 .names = {.separator = config.separator,
                                                           .default_domain = config.default_domain,
                                                           .case_sensitive = config.case_sensitive},
                                             }),
                                             ids, CheckedProvider::NameForm::kQualified);
  }
  // A validated config never gets here; a hand-built one (tests, tools) may.
  return core::error(Status::invalid_argument("provider " + config.name + ": provider type \"" +
                                              config.type + "\" is not available in this build"));
}

// auth_provider "krb5": the KDC checks the passwords of the provider's users.
Result<std::unique_ptr<Provider>> with_auth_provider(std::unique_ptr<Provider> made, const ProviderConfig& config) {
  if (config.auth_provider.empty()) return made;
  if (config.auth_provider != "krb5") {
    return core::error(Status::invalid_argument("provider " + config.name + ": auth_provider \"" +
                                                config.auth_provider + "\": krb5 or empty"));
  }
  if (!config.in_pool()) {
    return core::error(Status::invalid_argument("provider " + config.name +
                                                ": auth_provider krb5 blocks on the KDC: isolation "
                                                "must be process or auto"));
  }
  return std::make_unique<Krb5AuthProvider>(std::move(made), Krb5AuthProvider::Options{
                                                                 .realm = config.krb5_realm,
                                                                 .keytab = config.krb5_keytab,
                                                                 .ccache = config.krb5_ccache,
                                                             });
}

HomeShellOptions home_shell_options(const ProviderConfig& config) {
  return HomeShellOptions{
      .domain = config.name,
      .override_homedir = config.override_homedir,
      .fallback_homedir = config.fallback_homedir,
      .override_shell = config.override_shell,
      .allowed_shells = config.allowed_shells,
      .vetoed_shells = config.vetoed_shells,
      .shell_fallback = config.shell_fallback,
  };
}

}  // namespace

// The home and shell rules go around every provider that has any: one place,
// so the store, the fast cache and every front end see the same record.
Result<std::unique_ptr<Provider>> make_provider(const ProviderConfig& config) {
  auto directory = make_directory_provider(config);
  if (!directory) return directory;
  auto bare = with_auth_provider(std::move(*directory), config);
  if (!bare) return bare;
  HomeShellOptions rules = home_shell_options(config);
  if (rules.empty()) return bare;
  return std::unique_ptr<Provider>(std::make_unique<HomeShellProvider>(std::move(*bare), std::move(rules)));
}

Result<AsyncLdapParts> make_async_ldap(const ProviderConfig& config) {
  if (config.type != "ldap" || !config.async_lookups) {
    return core::error(Status::invalid_argument("provider " + config.name + ": async_lookups is for ldap providers"));
  }
  if (!config.in_pool()) {
    return core::error(Status::invalid_argument("provider " + config.name +
                                                ": async_lookups needs the provider pool: isolation must be "
                                                "process or auto"));
  }
  AsyncLdapParts parts;
  auto ldap = std::make_unique<LdapProvider>(ldap_options(config));
  parts.ldap = ldap.get();
  // The same decorators as the pooled provider's lookups (make_provider):
  // the directory gate, then the home and shell rules.
  const IdRange ids{.min_id = config.min_id, .max_id = config.max_id};
  parts.chain = std::make_unique<CheckedProvider>(std::move(ldap), ids);
  HomeShellOptions rules = home_shell_options(config);
  if (!rules.empty()) parts.chain = std::make_unique<HomeShellProvider>(std::move(parts.chain), std::move(rules));
  LdapProvider::Options options = ldap_options(config);
  parts.make_connector = [options] { return std::make_unique<LdapProvider>(options); };
  return parts;
}

bool may_start_unopened(const ProviderConfig& config) { return config.in_pool() && config.type != "files"; }

}  // namespace fastid::daemon
