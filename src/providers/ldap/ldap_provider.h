// LdapProvider: passwd, group, initgroups, netgroups, SSH keys, authentication and account checks
// from an LDAP directory through OpenLDAP's libldap, with synchronous calls
// (it runs in the provider pool's worker processes: isolation `auto` means
// `process` for it). One instance holds one connection for searches, opened
// lazily and re-opened on the next URI when it fails; authentication binds on
// a separate short-lived connection. Not thread-safe (the Provider contract).
// docs/ldap.md describes the configuration, the searches it makes and the
// rules that directory data must pass before it is served.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/ldap/ldap_bind_policy.h"
#include "providers/password_expiry.h"
#include "providers/provider.h"

// libldap's handle, kept out of this header.
struct ldap;

namespace fastid::providers::krb5 {
class KeytabCredentials;
}

namespace fastid::providers {

class LdapProvider final : public Provider {
 public:
  enum class Schema { kRfc2307, kRfc2307bis };
  enum class Scope { kBase, kOne, kSub };

  struct Options {
    std::string name = {};
    std::vector<std::string> uris = {};
    std::string base = {};
    std::string bind_dn = {};
    std::string bind_password = {};       // used when bind_password_file is empty
    std::string bind_password_file = {};
    std::string tls_ca_file = {};
    bool start_tls = false;
    std::string schema = "rfc2307";       // "rfc2307" or "rfc2307bis"
    std::string user_base = {};           // "" = base
    std::string user_scope = "sub";       // "sub", "one" or "base"
    std::string user_filter = "(objectClass=posixAccount)";
    std::string group_base = {};
    std::string group_scope = "sub";
    std::string group_filter = "(objectClass=posixGroup)";
    std::vector<std::string> user_attributes = {};   // "field=attribute" overrides
    std::vector<std::string> group_attributes = {};
    int page_size = 500;
    int nesting_depth = 4;
    std::string netgroup_base = {};       // "" = base; searched with scope sub
    std::string netgroup_filter = "(objectClass=nisNetgroup)";
    std::string ssh_key_attribute = "sshPublicKey";  // "" = no keys
    std::chrono::milliseconds network_timeout{5000};
    std::chrono::milliseconds search_timeout{10000};
    // Off: authenticate() never binds with a user's password over ldap://
    // without start_tls (it skips such URIs; kUnavailable when none is left).
    bool allow_cleartext_passwords = false;
    // "" = a simple bind (bind_dn); "GSSAPI" = a SASL GSSAPI bind with a
    // ticket this provider gets itself from `keytab` for `principal` ("" =
    // the host principal), in a private MEMORY: cache (docs/kerberos.md).
    std::string sasl_mech = {};
    std::string keytab = {};
    std::string principal = {};
    // The account check refuses a user whose entry does not match it ("": none).
    std::string access_filter = {};
    // The ppolicy default policy entry (slapd's olcPPolicyDefault), read for
    // pwdMaxAge and pwdExpireWarning when a user entry names no
    // pwdPolicySubentry ("": only users that name one have a policy's age).
    std::string password_policy_dn = {};
  };

  explicit LdapProvider(Options options);
  ~LdapProvider() override;
  LdapProvider(const LdapProvider&) = delete;
  LdapProvider& operator=(const LdapProvider&) = delete;

  const std::string& name() const override { return options_.name; }

  // Checks the options (URIs, DNs, scopes, attribute maps, schema, CA and
  // password files: kInvalidArgument naming the key), then connects, binds and
  // reads the bases: kPermissionDenied when the server refused the
  // credentials or the CA did not verify its certificate, kNotFound when a
  // base does not exist, kUnavailable when no URI answered. After
  // kUnavailable the provider stays usable: every call tries to connect again.
  Status open() override;
  void close() override;
  Status refresh() override { return Status::ok(); }

  // kInitgroups: a bounded number of searches (memberships()). Pages: paged
  // results (RFC 2696). The cursor is the number of records handed out so
  // far; the provider keeps the server's paging cookie and the records of the
  // current server page. A cursor that does not continue its own walk (the
  // page was asked of another pool worker, or the server forgot the cookie)
  // starts a new paged search and skips that many records.
  Result<Answer> lookup(const Query& query) override;

  // A simple bind as the user's DN on a connection of its own, over TLS only
  // unless allow_cleartext_passwords; hashes are never read. Two entries of
  // the name: not found, no bind. A directory lock (nsAccountLock, a
  // pwdAccountLockedTime the bind did not clear): kPermissionDenied.
  Status authenticate(std::string_view user, std::string_view password) override;
  // authenticate(), and what slapd's password policy control said of the
  // bind (ldap_bind_policy.h): an expiry warning (kOk with words for the
  // user) or grace logins left (kPasswordExpired: change it now).
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  // The directory's lock state (nsAccountLock, pwdAccountLockedTime: denied),
  // ppolicy's pwdReset (an administrator's reset: the password must be
  // changed), then shadowAccount attributes (shadowExpire, shadowLastChange, shadowMax,
  // shadowInactive), by today's date in days since 1970.
  Result<model::Account> account(std::string_view user) override;
  // The Password Modify extended operation (RFC 3062, ldap_password.h) on a
  // connection of its own, bound as the user's DN with the old password (TLS
  // only, as authenticate()): a user changes their own password and nobody
  // else's. The directory's password policy has the last word.
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;

  std::vector<std::pair<std::string, std::string>> stats() const override;

  // The day account() takes as today (tests); nullopt = the clock.
  void set_today_for_test(std::optional<std::int64_t> day) { today_for_test_ = day; }
  // The second (since 1970) a password policy's age is measured at (tests); nullopt = the clock.
  void set_now_for_test(std::optional<std::int64_t> second) { now_for_test_ = second; }
  // The URI the search connection uses now ("" when none).
  const std::string& connected_uri() const { return connected_uri_; }

  // What an account check decides from the shadow fields (-1 = absent), for tests.
  static model::Account account_verdict(std::int64_t today, std::int64_t last_change,
                                        std::int64_t max_days, std::int64_t inactive,
                                        std::int64_t expire);

  struct Impl;  // in the .cc: search helpers that need libldap's types

 private:
  template <typename T>
  struct Walk {
    bool active = false;
    std::uint32_t offset = 0;   // records handed out so far (the cursor)
    std::uint32_t skip = 0;     // records still to drop after a restart
    std::string cookie;         // the server's paging cookie; "" after the last page
    bool done = false;
    std::deque<T> buffered;
  };

  Options options_;
  Schema schema_ = Schema::kRfc2307;
  Scope user_scope_ = Scope::kSub;
  Scope group_scope_ = Scope::kSub;
  std::string user_base_, group_base_, user_base_key_, group_base_key_, netgroup_base_;
  struct UserAttrs {
    std::string name = "uid", uid = "uidNumber", gid = "gidNumber", gecos = "gecos",
                home = "homeDirectory", shell = "loginShell";
  } ua_;
  struct GroupAttrs {
    std::string name = "cn", gid = "gidNumber", member_uid = "memberUid", member = "member";
  } ga_;
  bool rdn_names_users_ = true;    // member DNs may name users by their RDN (see .cc)
  std::string password_;          // the service account's; zeroed on close
  bool checked_ = false;          // options validated
  ::ldap* conn_ = nullptr;
  std::string connected_uri_;
  std::size_t next_uri_ = 0;      // where the next connect starts
  Walk<User> user_walk_;
  Walk<Group> group_walk_;
  std::optional<std::int64_t> today_for_test_;
  std::optional<std::int64_t> now_for_test_;
  ldap::BindPolicyNotice last_bind_notice_;  // of the last authenticate()
  // stats
  std::uint64_t searches_ = 0, reconnects_ = 0, rejected_ = 0, skipped_ = 0, failovers_ = 0;
  std::uint64_t ambiguous_ = 0, cleartext_refusals_ = 0, locked_refusals_ = 0, password_changes_ = 0;
  std::string last_error_;
  // With sasl_mech GSSAPI: this instance's own ticket (keytab_credentials.h).
  std::unique_ptr<krb5::KeytabCredentials> gss_;

  Status check_options();
  void warn_cleartext() const;
  // The user's entry, the groups that list it (memberUid or member DN), and
  // for rfc2307bis one search per nesting level (member DNs OR-ed, in
  // chunks), never one per group: walked by ldap::walk_nesting
  // (ldap_membership.h) like a group's members, so the two agree.
  Result<model::Gids> memberships(std::string_view user);
  // cn, nisNetgroupTriple, memberNisNetgroup of each nesting level in one
  // search (names OR-ed), flattened by providers::flatten_netgroup.
  Result<model::Netgroup> netgroup(const std::string& name);
  // A ppolicy password's age (password_expiry.h): pwdChangedTime against the
  // pwdMaxAge and pwdExpireWarning of the entry's pwdPolicySubentry, else of
  // password_policy_dn (one base search); kNone without either.
  Result<PolicyExpiry> password_policy_expiry(const std::string& changed_time, const std::string& policy_subentry);
  // The values of ssh_key_attribute of the one entry of exactly that name.
  Result<model::SshKeys> ssh_keys(std::string_view user);
  friend struct Impl;
};

}  // namespace fastid::providers
