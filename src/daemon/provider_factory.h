// Provider factory: turns one [[provider]] section of the configuration into a
// Provider of its type, and its pool settings into the pool's options. The one
// place that knows which provider types this build has; it agrees with
// daemon::available_provider_types() (files_provider_test checks). Part of the
// daemon's wiring: the providers and the pool never see the configuration.
#pragma once

#include <functional>
#include <memory>

#include "core/status.h"
#include "daemon/config.h"
#include "pool/provider_pool.h"
#include "providers/ldap/ldap_provider.h"
#include "providers/provider.h"

namespace fastid::daemon {

// A new, unopened provider (the caller opens it in the process that uses it).
// Directory-backed types (ldap, fastid, winbind) come wrapped in a CheckedProvider,
// and every type with a home or shell rule in a HomeShellProvider.
// kInvalidArgument naming the provider and type when this build has no such type.
Result<std::unique_ptr<providers::Provider>> make_provider(const ProviderConfig& config);

// What a front worker needs to search an ldap provider itself (async_lookups,
// server/ldap_loop_directory.h): the provider's lookup chain (never opened:
// its searches are answered through `ldap`'s search hook), and a maker of
// providers whose open() connects and binds (on a helper thread).
struct AsyncLdapParts {
  std::unique_ptr<providers::Provider> chain;
  providers::LdapProvider* ldap = nullptr;  // inside chain
  std::function<std::unique_ptr<providers::LdapProvider>()> make_connector;
};
// kInvalidArgument: not an ldap provider with async_lookups, or not pooled.
Result<AsyncLdapParts> make_async_ldap(const ProviderConfig& config);

// Whether a provider that cannot be opened at start may start anyway,
// answering "unavailable" (providers/unopened_provider.h): a pooled provider
// of a directory type, whose failure is a setting the directory refuses (a
// base, a password, a CA). A files provider's unreadable file, in a pool or
// not, stops the start as before.
bool may_start_unopened(const ProviderConfig& config);

}  // namespace fastid::daemon
