// Registry: turns one [[provider]] section of the configuration into a
// Provider of its type. The one place that knows which types this build has;
// it agrees with daemon::available_provider_types() (files_provider_test checks).
#pragma once

#include <memory>

#include "core/status.h"
#include "daemon/config.h"
#include "providers/provider.h"

namespace fastid::providers {

// A new, unopened provider (the caller opens it in the process that uses it).
// Directory-backed types (ldap, fastid, winbind) come wrapped in a CheckedProvider.
// kInvalidArgument naming the provider and type when this build has no such type.
Result<std::unique_ptr<Provider>> make_provider(const daemon::ProviderConfig& config);

}  // namespace fastid::providers
