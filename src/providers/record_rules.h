// Record rules: what a user or group record from a directory must satisfy
// before the daemon may serve, publish or store it — names and fields that
// cannot break a passwd or group line, and ids inside the provider's range
// (never 0: a directory must not be able to hand out root). Shared by the LDAP
// provider (per entry) and CheckedProvider (per answer, for every
// directory-backed provider). Pure functions: safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fastid::providers {

// Why a value cannot stand in a passwd or group line; nullptr when it can.
// Names (user, group, member): 1..256 bytes; no ':' or ',' (field and member
// separators), no control character (newline, NUL, ...), none of the filter
// metacharacters '*', '(', ')', '\\' (names that look like filters are hostile).
// `qualified`: names of the form DOMAIN\\user (winbind) may hold a
// backslash; they never reach an LDAP filter.
const char* invalid_name_reason(std::string_view name, bool qualified = false);
// Other fields (gecos, home, shell): at most 4096 bytes; no ':', no control character.
const char* invalid_field_reason(std::string_view field);

// The ids a directory may give (the provider settings `min_id` and `max_id`).
// 4294967295 is (uid_t)-1, reserved by glibc and the kernel.
struct IdRange {
  std::uint32_t min_id = 1;
  std::uint32_t max_id = 4294967294u;
  bool operator==(const IdRange&) const = default;
};

// Why `id` may not come from a directory; nullptr when it may. 0 is refused
// whatever the range says.
const char* refused_id_reason(std::uint32_t id, IdRange range);

// For log lines: the text with control bytes and backslashes escaped ("\n",
// "\x00") and cut at 200 bytes, so a hostile value cannot forge a log line.
std::string printable(std::string_view text);

}  // namespace fastid::providers
