// The LDAP provider's searches as values: what one search asks (LdapSearchRequest)
// and the entries it returns (LdapEntryData), and a hook that answers them instead
// of the provider's own connection. The front worker's in-process LDAP mode
// (server/ldap_loop_directory.h) uses it to keep every rule of LdapProvider —
// the filters, the attributes, the entry-to-record mapping, the ambiguity and
// id checks — while it makes the searches itself, asynchronously, on its loop:
// it runs the provider once to learn the search, makes it, and runs the
// provider again with the hook answering from the entries it got.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace fastid::providers {

struct LdapSearchRequest {
  std::string base;
  int scope = 0;  // LDAP_SCOPE_BASE, _ONELEVEL or _SUBTREE
  std::string filter;
  std::vector<std::string> attrs;

  auto operator<=>(const LdapSearchRequest&) const = default;
};

struct LdapEntryData {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;  // lower-cased attribute names
};

// Answers one search (never a paged one: the provider makes those itself).
// An error is returned by the provider's lookup as it is.
using LdapSearchHook = std::function<core::Result<std::vector<LdapEntryData>>(const LdapSearchRequest&)>;

}  // namespace fastid::providers
