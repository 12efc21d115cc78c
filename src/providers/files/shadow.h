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
// Malformed lines are skipped; a file over 256 MiB is refused. With
// `cost_like`, also the hash of the file's first line that holds a crypt(3)
// string ("$id$...", empty when none does): the setting a dummy check of this
// file uses, so that it costs what checking a real user of the file costs.
core::Result<ShadowEntry> find_shadow_entry(const std::string& path, std::string_view user,
                                            core::Secret* cost_like = nullptr);

// Checks `password` with crypt_r against the entry's hash (yescrypt, SHA-512,
// bcrypt, ... whatever libcrypt accepts). kPermissionDenied for a wrong
// password, a locked hash ("!", "*") or an empty one (no password login).
// Exactly one crypt_r whatever the entry: a locked or empty hash is refused
// after a dummy_password_check(password, cost_like), so the time taken does
// not tell it apart.
core::Status check_shadow_password(const ShadowEntry& entry, std::string_view password,
                                   std::string_view cost_like = {});

// One crypt_r of `password`, the result thrown away: what refusing an unknown
// user costs, so that it costs what refusing a known one does (no
// user-enumeration timing oracle). Against `cost_like`, a hash of the same
// file (find_shadow_entry), so with that file's method and cost: SHA-512
// hashes cost a few milliseconds and no memory, a default-cost yescrypt
// 16 MiB of memory (libxcrypt mmaps 16,801,856 bytes for the length of the
// call) and tens of milliseconds. Without one (empty, or not "$id$..."),
// against a default-cost yescrypt setting made once per process.
void dummy_password_check(std::string_view password, std::string_view cost_like = {});

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
