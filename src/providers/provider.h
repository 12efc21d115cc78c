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
#include "proto/records.h"

namespace fastid::providers {

using core::Result;
using core::Status;
using proto::Group;
using proto::Page;
using proto::User;

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

  // Lookups: kNotFound when the entry does not exist, kUnavailable when the
  // backend cannot answer.
  virtual Result<User> user_by_name(std::string_view name) = 0;
  virtual Result<User> user_by_uid(std::uint32_t uid) = 0;
  virtual Result<Group> group_by_name(std::string_view name) = 0;
  virtual Result<Group> group_by_gid(std::uint32_t gid) = 0;

  // The gids of the groups that list `user` as a member (supplementary groups;
  // the primary gid is the caller's business). kNotFound if the user is unknown.
  virtual Result<std::vector<std::uint32_t>> initgroups(std::string_view user) = 0;

  // Enumeration in pages of at most `max` records, starting at `cursor`
  // (0 = the first page). A cursor is only meaningful to the provider that made it.
  virtual Result<Page<User>> users_page(std::uint32_t cursor, std::uint32_t max) = 0;
  virtual Result<Page<Group>> groups_page(std::uint32_t cursor, std::uint32_t max) = 0;

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

  // The account check after authentication (PAM acct_mgmt): same error codes
  // as authenticate; a verdict other than kOk is an answer, not an error.
  virtual Result<proto::Account> account(std::string_view user) {
    (void)user;
    return core::error(Status::invalid_argument(name() + ": this provider has no account checks"));
  }

  // A number that changes whenever the data this provider serves may have
  // changed (a reload): the daemon then invalidates what it published from it.
  // 0 = the provider cannot tell (its answers expire by their TTL only).
  virtual std::uint64_t data_generation() const { return 0; }

  // Figures for `fastid status` (key, value) — entries loaded, last reload …
  virtual std::vector<std::pair<std::string, std::string>> stats() const { return {}; }
};

}  // namespace fastid::providers
