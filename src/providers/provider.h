// Provider: the plain synchronous interface every identity backend implements
// (files, ldap, winbind, slow). One instance per process that uses it, opened
// inside that process; calls may block. Not thread-safe unless a provider says
// so: callers serialize calls on one instance.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/query.h"

namespace fastid::providers {

using core::Result;
using core::Status;
using model::Answer;
using model::Group;
using model::Page;
using model::Query;
using model::User;

class Provider {
 public:
  virtual ~Provider() = default;

  // The configured name ("local", "corp"): used in logs and status.
  virtual const std::string& name() const = 0;

  // Opens connections/files. Fails with a message that says what is wrong
  // (which path, which URI); the daemon refuses to start on it.
  virtual Status open() = 0;
  virtual void close() = 0;

  // Re-reads sources that changed since the last load (files provider: mtime,
  // size, inode). Returns ok when nothing changed or the reload worked; on a
  // failed reload the previous data stays in service.
  virtual Status refresh() = 0;

  // One lookup: the answer of the query's kind (model::answer_index), or
  // kNotFound when the entry does not exist, kUnavailable when the backend
  // cannot answer. For kInitgroups: the gids of the groups that list the user
  // (supplementary groups; the primary gid is the caller's business),
  // kNotFound if the user is unknown. Pages hold at most `max` records from
  // `cursor` (0 = the first page); a cursor is only meaningful to the
  // provider that made it.
  virtual Result<Answer> lookup(const Query& query) = 0;

  // Typed shorthands over lookup(), for tests and tools.
  Result<User> user_by_name(std::string_view n) { return model::answer_as<User>(lookup(Query::user_by_name(std::string(n)))); }
  Result<User> user_by_uid(std::uint32_t uid) { return model::answer_as<User>(lookup(Query::user_by_uid(uid))); }
  Result<Group> group_by_name(std::string_view n) { return model::answer_as<Group>(lookup(Query::group_by_name(std::string(n)))); }
  Result<Group> group_by_gid(std::uint32_t gid) { return model::answer_as<Group>(lookup(Query::group_by_gid(gid))); }
  Result<model::Gids> initgroups(std::string_view user) { return model::answer_as<model::Gids>(lookup(Query::initgroups(std::string(user)))); }
  Result<Page<User>> users_page(std::uint32_t cursor, std::uint32_t max) { return model::answer_as<Page<User>>(lookup(Query::users_page(cursor, max))); }
  Result<Page<Group>> groups_page(std::uint32_t cursor, std::uint32_t max) { return model::answer_as<Page<Group>>(lookup(Query::groups_page(cursor, max))); }

  // Authentication (PAM). Ok when `password` is the user's. kNotFound: the
  // user is unknown to this provider. kPermissionDenied: the source rejected
  // the password (a rejection, never an outage). kUnavailable: the source could
  // not be reached. kInvalidArgument: this provider does not authenticate.
  // The password is never logged, copied into long-lived memory or kept.
  virtual Status authenticate(std::string_view user, std::string_view password) {
    (void)user;
    (void)password;
    return Status::invalid_argument(name() + ": this provider does not authenticate");
  }

  // authenticate(), and what the source said of the account while it checked
  // the password: most sources say nothing (kOk; their account() decides);
  // winbind reports an expired account or a password that must be changed
  // only here, with the right password (and has no account check without
  // one). A verdict other than kOk means the password was right.
  virtual Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) {
    Status st = authenticate(user, password);
    if (!st) return core::error(st);
    return model::Account{};
  }

  // The account check after authentication (PAM acct_mgmt): same error codes
  // as authenticate; a verdict other than kOk is an answer, not an error.
  virtual Result<model::Account> account(std::string_view user) {
    (void)user;
    return core::error(Status::invalid_argument(name() + ": this provider has no account checks"));
  }

  // A password change (PAM chauthtok): `old_password` must be the user's
  // (the source checks it, e.g. by binding as the user), and the source's own
  // policy may refuse `new_password`. Both empty: a preliminary check only —
  // kChanged when this source would change the user's password, nothing sent.
  // Errors as authenticate(): kNotFound (unknown here: the next source is
  // asked), kUnavailable, kInvalidArgument (this provider does not change
  // passwords at all: the next source is asked). A source that knows the user
  // but leaves passwords to other tools answers kNotSupported.
  virtual Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                        std::string_view new_password) {
    (void)user;
    (void)old_password;
    (void)new_password;
    return core::error(Status::invalid_argument(name() + ": this provider does not change passwords"));
  }

  // Whether a record named `answered` is the entry a lookup of `asked` means.
  // Most providers answer with the name asked; winbind answers "wbtest\\Bob"
  // and "bob@wbtest" with the canonical "WBTEST\\bob" (CheckedProvider asks).
  virtual bool names_entry(std::string_view asked, std::string_view answered) const {
    return asked == answered;
  }

  // A number that changes whenever the data this provider serves may have
  // changed (a reload): the daemon then invalidates what it published from it.
  // 0 = the provider cannot tell (its answers expire by their TTL only).
  virtual std::uint64_t data_generation() const { return 0; }

  // Figures for `fastid status` (key, value) — entries loaded, last reload …
  virtual std::vector<std::pair<std::string, std::string>> stats() const { return {}; }
};

}  // namespace fastid::providers
