// The access rules of the account check (access_rules.h).
#include "server/access_rules.h"

#include <algorithm>
#include <set>

#include "model/query.h"
#include "server/nss_handler.h"

namespace fastid::server {

namespace {

bool listed(const std::vector<std::string>& names, const std::string& a, const std::string& b) {
  return std::find(names.begin(), names.end(), a) != names.end() ||
         std::find(names.begin(), names.end(), b) != names.end();
}

using Refusal = std::optional<std::string>;

// The first group of `names` that one of `gids` is, if any.
asio::awaitable<core::Result<Refusal>> first_group_of(NssHandler& nss, std::vector<std::string> names,
                                                      std::set<std::uint32_t> gids) {
  for (const std::string& name : names) {
    auto find_group = nss.lookup(model::Query::group_by_name(name));
    core::Result<model::Group> g = model::answer_as<model::Group>(co_await std::move(find_group));
    if (!g) {
      if (g.error().code() == core::Code::kNotFound) continue;  // matches nobody
      co_return core::error(g.error());
    }
    if (gids.count(g->gid) != 0) co_return Refusal{name};
  }
  co_return Refusal{};
}

}  // namespace

// Each awaitable is created in its own statement, then awaited (GCC 12).
asio::awaitable<core::Result<std::optional<std::string>>> access_refusal(NssHandler& nss, AccessRules rules,
                                                                         std::string user) {
  if (rules.empty()) co_return Refusal{};
  auto find_user = nss.lookup(model::Query::user_by_name(user));
  core::Result<model::User> u = model::answer_as<model::User>(co_await std::move(find_user));
  if (!u) co_return core::error(u.error());
  // The asked name and the record's own (winbind answers its canonical form).
  if (listed(rules.deny_users, user, u->name)) co_return Refusal{"deny_users (" + u->name + ")"};

  std::set<std::uint32_t> gids;
  if (!rules.deny_groups.empty() || !rules.allow_groups.empty()) {
    gids.insert(u->gid);
    auto find_groups = nss.lookup(model::Query::initgroups(user));
    core::Result<model::Gids> more = model::answer_as<model::Gids>(co_await std::move(find_groups));
    if (more) {
      gids.insert(more->begin(), more->end());
    } else if (more.error().code() != core::Code::kNotFound) {
      co_return core::error(more.error());
    }
  }
  auto denied = first_group_of(nss, rules.deny_groups, gids);
  core::Result<Refusal> in_denied = co_await std::move(denied);
  if (!in_denied) co_return core::error(in_denied.error());
  if (*in_denied) co_return Refusal{"deny_groups (" + **in_denied + ")"};

  if (rules.allow_users.empty() && rules.allow_groups.empty()) co_return Refusal{};
  if (listed(rules.allow_users, user, u->name)) co_return Refusal{};
  auto allowed = first_group_of(nss, rules.allow_groups, gids);
  core::Result<Refusal> in_allowed = co_await std::move(allowed);
  if (!in_allowed) co_return core::error(in_allowed.error());
  if (*in_allowed) co_return Refusal{};
  std::string which;
  if (!rules.allow_users.empty()) which = "allow_users";
  if (!rules.allow_groups.empty()) which += std::string(which.empty() ? "" : ", ") + "allow_groups";
  co_return Refusal{"not in " + which};
}

}  // namespace fastid::server
