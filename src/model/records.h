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

}  // namespace fastid::model
