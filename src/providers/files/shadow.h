// Shadow: the authentication side of the files provider. A shadow(5)-format
// file is read at each call (and the buffer zeroed after), never indexed or
// cached: hashes live in the daemon's memory only while one check runs, and a
// changed file needs no reload. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/secret.h"
#include "core/status.h"
#include "model/records.h"

namespace fastid::providers {

// One line of a shadow file. Day numbers count from 1970-01-01; -1 = empty field.
struct ShadowEntry {
  core::Secret hash;  // the crypt(3) string; "!..." or "*" = no password login
  std::int64_t last_change = -1;
  std::int64_t min_days = -1;
  std::int64_t max_days = -1;
  std::int64_t warn_days = -1;
  std::int64_t inactive_days = -1;
  std::int64_t expire_day = -1;
};

// The entry of `user` in the file at `path`: kNotFound when the file has no
// such line, kUnavailable (with the path and errno) when it cannot be read.
// Malformed lines are skipped; a file over 256 MiB is refused.
core::Result<ShadowEntry> find_shadow_entry(const std::string& path, std::string_view user);

// Checks `password` with crypt_r against the entry's hash (yescrypt, SHA-512,
// bcrypt, ... whatever libcrypt accepts). kPermissionDenied for a wrong
// password, a locked hash ("!", "*") or an empty one (no password login).
// Exactly one crypt_r whatever the entry: a locked or empty hash is refused
// after a dummy_password_check, so the time taken does not tell it apart.
core::Status check_shadow_password(const ShadowEntry& entry, std::string_view password);

// One crypt_r of `password` against a yescrypt setting made once per process,
// the result thrown away: what refusing an unknown user costs, so that it
// costs what refusing a known one does (no user-enumeration timing oracle).
void dummy_password_check(std::string_view password);

// crypt_r calls made on this thread by the two functions above, since the
// thread started: what an authentication really cost, counted where the work
// is done (so a path that skips the crypt shows in the figure).
std::uint64_t crypt_calls_on_this_thread();

// The account verdict of the aging fields on day `today`, as pam_unix reads
// them: expire_day passed -> kExpired; last_change 0 -> kPasswordExpired
// (change required); last_change + max_days + inactive_days passed ->
// kExpired (inactive too long); last_change + max_days passed ->
// kPasswordExpired. A hash starting with '!' does not deny the account here
// (pam_unix neither): password login is refused by authentication instead.
model::Account shadow_account_verdict(const ShadowEntry& entry, std::int64_t today);

// Days since 1970-01-01 now (UTC).
std::int64_t days_since_epoch();

}  // namespace fastid::providers
