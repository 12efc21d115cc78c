// The LDAP provider's internals, shared by the files that implement it and
// included by them only: ldap_provider.cc (the Provider methods and
// enumeration), ldap_options.cc (the options checked and resolved),
// ldap_connection.cc (connecting, binding, searching), ldap_entries.cc
// (directory entries mapped to users and groups, group members) and
// ldap_authentication.cc (binds as a user, password changes, account checks).
// LdapProvider::Impl holds the helpers that need libldap's types and the
// provider's private state, kept out of ldap_provider.h.
#pragma once

#include <ldap.h>
#include <sys/time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "providers/ldap/ldap_provider.h"
#include "providers/ldap/ldap_values.h"

namespace fastid::providers {

namespace ldap {

// OR-ed filters are sent in chunks of this many terms: about 30 KB of filter
// each, well below slapd's default limit on an anonymous request (256 KiB),
// and a bounded number of searches (a user in 2,000 groups costs
// ceil(2000 / 500) = 4 per nesting level).
inline constexpr std::size_t kTermsPerSearch = 500;

// One entry of a search result.
struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;  // lower-cased attribute names

  const std::vector<std::string>* values(const std::string& attr_lower) const {
    auto it = attrs.find(attr_lower);
    return it == attrs.end() || it->second.empty() ? nullptr : &it->second;
  }
  std::string first(const std::string& attr_lower) const {
    const auto* v = values(attr_lower);
    return v ? v->front() : std::string();
  }
};

// ASCII lower case (attribute names, URI schemes, TRUE/true values).
std::string lowered(std::string_view s);
timeval to_timeval(std::chrono::milliseconds d);
// A connection failure: the server is gone or never answered; another URI may do.
bool is_connection_error(int rc);
// libldap's text for `rc` with the server's diagnostic message, printable.
std::string describe(LDAP* ld, int rc);
// Unbinds and frees the handle, if any; leaves it null.
void unbind(LDAP*& ld);

}  // namespace ldap

using ldap::describe;
using ldap::dn_key;
using ldap::Entry;
using ldap::equality_filter;
using ldap::escape_filter_value;
using ldap::first_rdn;
using ldap::invalid_field_reason;
using ldap::invalid_name_reason;
using ldap::is_connection_error;
using ldap::kTermsPerSearch;
using ldap::lowered;
using ldap::parse_days;
using ldap::parse_id;
using ldap::printable;
using ldap::to_timeval;
using ldap::unbind;

struct LdapProvider::Impl {
  using P = LdapProvider;

  // Statuses say "ldap: ..." (the daemon and the pool add "provider NAME");
  // log lines name the provider themselves.
  static std::string prefix(const P&) { return "ldap: "; }
  static std::string log_prefix(const P& p) { return "ldap provider " + p.options_.name + ": "; }

  // ldap_connection.cc
  static int scope_of(Scope s);
  // A new handle for `uri` with the options every connection shares, not yet
  // connected (libldap connects on the first operation).
  static Status make_handle(const P& p, const std::string& uri, LDAP*& ld);
  // Connects `ld` (StartTLS if configured) and binds as dn/password.
  // kPermissionDenied: the server refused the credentials or the certificate
  // did not verify; kUnavailable: no answer. `notice` (a user's bind only):
  // the bind carries the password policy control, and this gets what the
  // server's answer said (ldap_bind_policy.h).
  static Status connect_and_bind(const P& p, const std::string& uri, LDAP* ld, const std::string& dn,
                                 std::string_view password, bool user_bind,
                                 ldap::BindPolicyNotice* notice = nullptr);
  // The service account's SASL GSSAPI bind with the provider's own ticket.
  // The server's principal is ldap/<the URI's host> exactly as written
  // (no canonicalisation through DNS, which would name this host for 127.0.0.1).
  static Status gssapi_bind(const P& p, const std::string& uri, LDAP* ld);
  // The search connection: kept open; on failure each URI is tried in order.
  static Status ensure_connected(P& p);
  static void drop(P& p);
  // One search. On a connection failure the connection is dropped and, when
  // `retry`, the search is made again on a new connection (the next URI that
  // answers). `cookie` non-null: a paged search (in: the cookie to continue
  // from, "" to start; out: the server's next cookie, "" after the last page).
  static Result<std::vector<Entry>> search(P& p, const std::string& base, Scope scope,
                                           const std::string& filter,
                                           const std::vector<std::string>& attrs,
                                           std::string* cookie = nullptr, bool retry = true);
  // Whether a URI would carry a password in clear: ldap:// without StartTLS.
  static bool cleartext(const P& p, const std::string& uri);

  // ldap_entries.cc
  static void skip_entry(P& p, const Entry& e, const std::string& why);
  static void reject_entry(P& p, const Entry& e, const std::string& why);
  static std::vector<std::string> user_attr_list(const P& p);
  static std::vector<std::string> group_attr_list(const P& p);
  // The name the entry is served under: `want` if it is one of its values
  // (a lookup by name matches exactly, never case-folded), else the first.
  static std::optional<std::string> pick_name(const std::vector<std::string>& names,
                                              std::string_view want);
  static std::optional<User> to_user(P& p, const Entry& e, std::string_view want = {});
  // The group's own fields, members not yet resolved.
  static std::optional<Group> to_group_head(P& p, const Entry& e, std::string_view want = {});
  // Collects member names of one group: memberUid values, member DNs that
  // name a user by their RDN under the user base (no search), and — for the
  // others — one search per nesting level for child groups and one for users
  // whose DN does not carry their name, each with OR-ed RDN terms.
  struct Members {
    std::vector<std::string> names;
    std::unordered_set<std::string> seen;
  };
  static void add_member(P& p, const Entry& group, Members& m, const std::string& name);
  // Adds what `e` lists directly; DNs that need a search go to `pending` (key -> DN).
  static void take_direct(P& p, const Entry& e, Members& m, std::map<std::string, std::string>& pending,
                          const std::set<std::string>& visited);
  // Whether an entry whose parent has DN key `parent` is within the scope of
  // a search of `base` (keys as dn_key makes them: RDNs joined by ',', with
  // ',' inside values escaped as "\,").
  static bool under(const std::string& parent, const std::string& base, Scope scope);
  static std::string or_of_rdns(const std::vector<std::pair<std::string, std::string>>& chunk);
  // The members of `group` flattened through the groups nested in it, walked
  // by walk_nesting as memberships() walks a user's groups (the same depth,
  // each group once): per level reached, one search of the groups among the
  // member DNs that need one (none at the last level) and one of the users
  // left, in chunks of kTermsPerSearch; a DN resolved once is not searched
  // again within the lookup.
  static Status resolve_members(P& p, const Entry& group, Members& m);
  static Result<Group> to_group(P& p, const Entry& e, std::string_view want = {});
  // The one entry of `entries` that has `want` among its `attr` values
  // (exactly, as a lookup by name matches): nullptr when none does; two or
  // more are ambiguous — the name could stand for either, so it stands for
  // neither (logged with their DNs, answered "not found").
  static Result<const Entry*> only_named(P& p, const std::vector<Entry>& entries, const std::string& attr,
                                         std::string_view want, const char* kind);
  static Result<User> one_user(P& p, const std::string& term, std::string_view want);
  static Result<Group> one_group(P& p, const std::string& term, std::string_view want);
  // The entry of a user by exact name (DN and requested attributes); two
  // entries of that name are ambiguous (not found): nothing binds as either.
  static Result<Entry> user_entry(P& p, std::string_view name, std::vector<std::string> attrs);

  // ldap_provider.cc: a paged walk of users or groups (Page cursors).
  template <typename T, typename Convert>
  static Result<Page<T>> walk(P& p, Walk<T>& w, std::uint32_t cursor, std::uint32_t max,
                              const std::string& base, Scope scope, const std::string& filter,
                              const std::vector<std::string>& attrs, Convert convert);
};

// The options checked once before the first call (open() checks them anyway).
#define FASTID_LDAP_READY()                                                         \
  do {                                                                               \
    if (!checked_) {                                                                 \
      if (Status st_ = check_options(); !st_) return core::error(st_);               \
    }                                                                                \
  } while (0)

}  // namespace fastid::providers
