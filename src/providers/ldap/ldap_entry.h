// One LDAP entry as the provider reads it (a DN and its attributes, values as
// the server sent them) and the mapping of an entry to a passwd record or a
// group's own fields. Directory data is hostile: every value the mapping takes
// is checked here (names, ids, the fields of a passwd line), and an entry that
// fails says why. Pure functions over values, no libldap: the LDAP provider
// calls them on what a search returned, the fuzz target
// (tests/fuzz/ldap_entry_fuzz.cc) on attribute lists it makes up.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/records.h"

namespace fastid::providers::ldap {

struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;  // lower-cased attribute names

  // The values of an attribute (its lower-cased name); nullptr when it has none.
  const std::vector<std::string>* values(const std::string& attr_lower) const;
  // Its first value, or "".
  std::string first(const std::string& attr_lower) const;
};

// Which attribute holds each field (the `user_attributes` and
// `group_attributes` overrides of docs/ldap.md).
struct UserAttributes {
  std::string name = "uid", uid = "uidNumber", gid = "gidNumber", gecos = "gecos",
              home = "homeDirectory", shell = "loginShell";
};
struct GroupAttributes {
  std::string name = "cn", gid = "gidNumber", member_uid = "memberUid", member = "member";
};

std::string lowered(std::string_view s);

// What became of one entry: a record, or why not. kSkipped: a required
// attribute is missing (not a record of this kind); kRejected: a value is
// unsafe to serve (logged and counted by the provider); kNotWanted: none of
// its names is the one a lookup by name asked for.
enum class Outcome { kMapped, kSkipped, kRejected, kNotWanted };
template <typename T>
struct Mapped {
  Outcome outcome = Outcome::kSkipped;
  std::optional<T> record;
  std::string why;  // for kSkipped and kRejected
};

// The entry as a passwd record, served under `want` if that is one of its
// names (a lookup by name matches exactly), else under its first name.
Mapped<model::User> user_of_entry(const UserAttributes& a, const Entry& e, std::string_view want = {});
// The group's own fields (name and gid); members are resolved by the provider.
Mapped<model::Group> group_head_of_entry(const GroupAttributes& a, const Entry& e, std::string_view want = {});

}  // namespace fastid::providers::ldap
