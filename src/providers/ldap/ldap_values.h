// LDAP values: what the LDAP provider does to every value that crosses the
// directory boundary. Filter values from requests are escaped (RFC 4515);
// values from the directory are untrusted and checked before they become a
// passwd or group field. Pure functions, no libldap state: safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "providers/record_rules.h"

namespace fastid::providers::ldap {

// RFC 4515 escaping of an assertion value: '*', '(', ')', '\\' and NUL — and,
// so that a filter is always printable, every byte below 0x20 and 0x7f — as
// "\XX" (two lower-case hex digits). Everything else passes unchanged.
std::string escape_filter_value(std::string_view value);

// "(attr=escaped value)".
std::string equality_filter(std::string_view attr, std::string_view value);

// The name and field rules are every directory's (providers/record_rules.h).
using providers::invalid_field_reason;
using providers::invalid_name_reason;

// A uid or gid from its decimal text: digits only, 0..4294967294 (4294967295
// is (uid_t)-1, which glibc and the kernel reserve). nullopt otherwise
// ("-1", "4294967296", "", "12a", " 5").
std::optional<std::uint32_t> parse_id(std::string_view text);

// A day count for shadow fields: an optional '-' and digits, within int64.
std::optional<std::int64_t> parse_days(std::string_view text);

// A comparable form of a DN: each RDN's attribute types and values lower-cased
// (ASCII), escapes resolved; nullopt when the text is not a DN.
std::optional<std::string> dn_key(std::string_view dn);

// The first RDN of `dn` when it is one "attr=value" pair; attr lower-cased,
// value unescaped. `parent_key` gets the dn_key of the rest.
struct FirstRdn {
  std::string attr;
  std::string value;
  std::string parent_key;
};
std::optional<FirstRdn> first_rdn(std::string_view dn);

using providers::printable;

}  // namespace fastid::providers::ldap
