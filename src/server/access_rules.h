// AccessRules: who may log in through one provider, decided at the account
// check (PAM acct_mgmt) after the provider found the account in order.
// `deny_users` and `deny_groups` win over everything; then, when either
// allow list is set, the user must be named in `allow_users` or belong to a
// group of `allow_groups`. A user's groups are its primary gid and its
// initgroups, compared by gid with the named groups, both found through the
// NSS handler (every directory, the store while a directory is offline), so
// the decision is the same online and offline. A named group nobody knows
// matches nobody; a lookup that cannot be answered refuses nothing and
// admits nothing: it is an error (the account check answers "try again").
// (`access_filter`, an LDAP filter the user's entry must match, is the LDAP
// provider's own: it needs the entry.)
#pragma once

#include <asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace fastid::server {

class NssHandler;

struct AccessRules {
  std::vector<std::string> allow_users = {};
  std::vector<std::string> deny_users = {};
  std::vector<std::string> allow_groups = {};
  std::vector<std::string> deny_groups = {};
  bool empty() const {
    return allow_users.empty() && deny_users.empty() && allow_groups.empty() && deny_groups.empty();
  }
  bool operator==(const AccessRules&) const = default;
};

// The rule that refuses `user` ("deny_groups (wheel)", "allow_users, allow_groups"),
// nullopt when the rules admit the user; an error when a lookup failed.
asio::awaitable<core::Result<std::optional<std::string>>> access_refusal(NssHandler& nss, AccessRules rules,
                                                                         std::string user);

}  // namespace fastid::server
