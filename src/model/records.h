// Identity records, the model every layer shares: one passwd entry, one group
// entry, one page of an enumeration, an account verdict. Plain values; they
// never carry password hashes (passwd is "x" or "*"). The wire (src/proto),
// the store's codec and the fast cache are encodings of these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fastid::model {

struct User {
  std::string name;
  std::string passwd = "x";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string gecos;
  std::string dir;
  std::string shell;
  bool operator==(const User&) const = default;
};

struct Group {
  std::string name;
  std::string passwd = "x";
  std::uint32_t gid = 0;
  std::vector<std::string> members;
  bool operator==(const Group&) const = default;
};

// One page of an enumeration. `next_cursor` is opaque to clients: they send it
// back to get the following page. `more` is false on the last page.
template <typename T>
struct Page {
  std::vector<T> records;
  std::uint32_t next_cursor = 0;
  bool more = false;
  bool operator==(const Page&) const = default;
};

// The verdict of an account check (PAM acct_mgmt): from shadow aging fields
// (files) or shadowAccount attributes (LDAP). `message` is for the user
// ("account expired on 2026-01-01"), never a secret.
enum class AccountVerdict : std::uint8_t {
  kOk = 0,
  kExpired,          // the account has expired        -> PAM_ACCT_EXPIRED
  kPasswordExpired,  // the password must be changed   -> PAM_NEW_AUTHTOK_REQD
  kDenied,           // locked or otherwise not allowed -> PAM_PERM_DENIED
};

struct Account {
  AccountVerdict verdict = AccountVerdict::kOk;
  std::string message;
  bool operator==(const Account&) const = default;
};

// The verdict of a password change (PAM chauthtok) by a source that knows the
// user; `message` is for the user (the directory's reason), never a secret.
enum class PasswordChangeVerdict : std::uint8_t {
  kChanged = 0,         // done (or, for a preliminary check: this source would do it)
  kOldPasswordRejected, // the current password is not the user's  -> PAM_PERM_DENIED
  kNewPasswordRefused,  // the source's password policy refused it -> PAM_AUTHTOK_ERR
  kDenied,              // the account is locked                   -> PAM_PERM_DENIED
  kNotSupported,        // this source does not change passwords   -> PAM_IGNORE
};

struct PasswordChange {
  PasswordChangeVerdict verdict = PasswordChangeVerdict::kChanged;
  std::string message;
  bool operator==(const PasswordChange&) const = default;
};

}  // namespace fastid::model
