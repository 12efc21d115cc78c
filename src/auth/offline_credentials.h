// OfflineCredentials: the offline authentication file (off by default).
// After a successful online login the daemon keeps a salted libcrypt hash
// (yescrypt, from crypt_gensalt) of the password, one line per user:
//   user:hash:seconds-since-epoch-of-the-login
// in a file of mode 0600 owned by the daemon (root). It is consulted only when
// every source that could answer is offline (as its probe decided) — never
// after a rejection, never because a pool was busy.
// Every call does blocking I/O and a slow hash: run it on the offload pool.
// Calls on one instance from several threads at once are serialized inside.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::auth {

class OfflineCredentials {
 public:
  OfflineCredentials(std::string path, std::chrono::seconds max_age)
      : path_(std::move(path)), max_age_(max_age) {}

  // Replaces the user's line with a fresh hash of `password`, written to a
  // new file that is renamed over the old one.
  core::Status remember(std::string_view user, std::string_view password);
  // ok when `password` matches the user's stored hash, dated no later than
  // now and no earlier than max_age ago; kPermissionDenied when it does not match; kNotFound when there
  // is no usable line (none, or too old); kUnavailable when the file cannot be read.
  core::Status verify(std::string_view user, std::string_view password);
  // Drops the user's line: the source rejected the password online, said it
  // has no such user, or refused the account (expired, disabled).
  core::Status forget(std::string_view user);
  // Whether a usable line exists (the offline account check): the user logged
  // in online within max_age and the source has not since refused the account.
  bool has(std::string_view user);

  const std::string& path() const { return path_; }

 private:
  core::Status rewrite(std::string_view user, const std::string* new_line);

  const std::string path_;
  const std::chrono::seconds max_age_;
  std::mutex mu_;
};

}  // namespace fastid::auth
