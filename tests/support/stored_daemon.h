// A fastidd with the store in front of its pooled providers, for the tests of
// outages (store_ldap_system_test, fault_matrix_system_test): the config
// (the fast cache off, so that every lookup reaches the daemon and the store)
// and the state of a provider that `fastid status` shows.
#pragma once

#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// [daemon] in d's folder, [store] with `store_keys` (lines "key = value\n"),
// the fast cache off, then `providers` (whole [[provider]] tables, such as
// Slapd::provider_toml()).
inline std::string stored_daemon_config(const Daemon& d, const std::string& store_keys,
                                        const std::string& providers) {
  return "[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() + "/state\"\n\n[store]\n" +
         store_keys +
         "\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
         "initgroups = { enabled = false }\n" +
         providers;
}

// The store's state of `provider` in `fastid status` ("online", "offline";
// "" when the daemon does not answer or has no store for it).
inline std::string store_state(const Daemon& d, const std::string& provider = "corp") {
  return d.status_value("store." + provider + ".state");
}

}  // namespace fastid::testing
