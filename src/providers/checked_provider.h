// CheckedProvider: the one gate between a directory-backed provider (ldap, and
// the remote provider `type = "fastid"`) and the daemon. Every answer must
// match its request (getpwnam's answer has the asked name — as the provider's
// names_entry() compares names —, getpwuid's the
// asked uid, ...) and pass the record rules (providers/record_rules.h): names
// and fields that fit a passwd/group line, uid and gid inside the provider's
// IdRange and never 0. A record that fails is logged and answered "not found",
// so it is never served, published or stored; enumeration pages and
// initgroups lists drop it; a group's member list is filtered of invalid names
// only. A successful authentication or an account verdict counts only for a
// user whose record passes. The registry wraps providers in it; one thread at a time,
// as the Provider interface says.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "providers/provider.h"
#include "providers/wrapping_provider.h"
#include "providers/record_rules.h"

namespace fastid::providers {

class CheckedProvider final : public WrappingProvider {
 public:
  // kQualified: names may be DOMAIN\\user (winbind), see invalid_name_reason.
  enum class NameForm { kPlain, kQualified };
  CheckedProvider(std::unique_ptr<Provider> inner, IdRange ids, NameForm names = NameForm::kPlain);


  Result<Answer> lookup(const Query& query) override;
  Status authenticate(std::string_view user, std::string_view password) override;
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  Result<model::Account> account(std::string_view user) override;
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;

  std::vector<std::pair<std::string, std::string>> stats() const override;

  Provider& inner() { return *inner_; }

 private:
  // Why the record may not be served (logged by the caller); nullopt = it may.
  // A group's invalid members are dropped here (logged), not the group.
  std::optional<std::string> user_refusal(const User& u) const;
  std::optional<std::string> group_refusal(Group& g);
  std::optional<std::string> refusal(User& u);
  std::optional<std::string> refusal(Group& g);
  Status refuse(const std::string& what, const std::string& why);
  // The answer of each kind as it may be served (see the file comment).
  template <typename T>
  Result<Answer> checked(const Query& q, T record);
  template <typename T>
  Result<Answer> checked(const Query& q, Page<T> page);
  Result<Answer> checked(const Query& q, model::Gids gids);
  Result<Answer> checked(const Query& q, model::Netgroup netgroup);
  Result<Answer> checked(const Query& q, model::SshKeys keys);

  IdRange ids_;
  bool qualified_ = false;
  std::uint64_t refused_ = 0;
};

}  // namespace fastid::providers
