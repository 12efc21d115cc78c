// Identity records, the model every layer shares: one passwd entry, one group
// entry, one page of an enumeration, a netgroup, a user's SSH keys, an account verdict. Plain values; they
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

// One netgroup member triple (netgroup(5)): an empty field is a wildcard
// (glibc's NULL, "any"); any other value, "-" included, must match as given.
struct NetgroupTriple {
  std::string host;
  std::string user;
  std::string domain;
  bool operator==(const NetgroupTriple&) const = default;
  auto operator<=>(const NetgroupTriple&) const = default;
};

// A netgroup as one source knows it: its triples with the nested netgroups it
// holds already flattened in (each once, cycles cut), and the names of nested
// netgroups this source does not have, which glibc looks up in the other
// sources of nsswitch.conf.
struct Netgroup {
  std::string name;
  std::vector<NetgroupTriple> triples;
  std::vector<std::string> unresolved;
  bool operator==(const Netgroup&) const = default;
};

// A user's SSH public keys (authorized_keys lines, one key each), for sshd's
// AuthorizedKeysCommand. Public data; never private keys.
struct SshKeys {
  std::string user;
  std::vector<std::string> keys;
  bool operator==(const SshKeys&) const = default;
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
  // Authentication only: the credential cache the source left for this login
  // ("FILE:/tmp/krb5cc_1000_a8Xk2p", auth_provider = "krb5"), exported to the
  // session as KRB5CCNAME; "" for none.
  std::string ccache = {};
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
