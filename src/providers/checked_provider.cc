#include "providers/checked_provider.h"

#include <algorithm>

#include "core/log.h"

namespace fastid::providers {

CheckedProvider::CheckedProvider(std::unique_ptr<Provider> inner, IdRange ids)
    : inner_(std::move(inner)), ids_(ids) {}

Status CheckedProvider::refuse(const std::string& what, const std::string& why) {
  ++refused_;
  core::log_warning("provider " + name() + ": " + what + " refused: " + why);
  return Status::not_found("provider " + name() + ": " + what + " refused: " + why);
}

std::optional<std::string> CheckedProvider::user_refusal(const User& u) const {
  if (const char* why = invalid_name_reason(u.name)) return std::string(why);
  for (const std::string* f : {&u.passwd, &u.gecos, &u.dir, &u.shell}) {
    if (const char* why = invalid_field_reason(*f)) return std::string(why) + " \"" + printable(*f) + "\"";
  }
  if (const char* why = refused_id_reason(u.uid, ids_)) return "uid " + std::to_string(u.uid) + ": " + why;
  if (const char* why = refused_id_reason(u.gid, ids_)) return "gid " + std::to_string(u.gid) + ": " + why;
  return std::nullopt;
}

std::optional<std::string> CheckedProvider::group_refusal(Group& g) {
  if (const char* why = invalid_name_reason(g.name)) return std::string(why);
  if (const char* why = invalid_field_reason(g.passwd)) return std::string(why);
  if (const char* why = refused_id_reason(g.gid, ids_)) return "gid " + std::to_string(g.gid) + ": " + why;
  std::erase_if(g.members, [&](const std::string& m) {
    const char* why = invalid_name_reason(m);
    if (why != nullptr) {
      core::log_warning("provider " + name() + ": group \"" + g.name + "\": member \"" + printable(m) +
                        "\" dropped: " + why);
    }
    return why != nullptr;
  });
  return std::nullopt;
}

Result<User> CheckedProvider::user_by_name(std::string_view name) {
  if (invalid_name_reason(name) != nullptr) return core::error(Status::not_found("no such user"));
  auto u = inner_->user_by_name(name);
  if (!u) return u;
  const std::string what = "user \"" + printable(u->name) + "\"";
  if (u->name != name) {
    return core::error(refuse(what, "the answer to a lookup of \"" + printable(name) + "\" names another user"));
  }
  if (auto why = user_refusal(*u)) return core::error(refuse(what, *why));
  return u;
}

// A refused id is still asked for: the store probes a provider's reachability
// with getpwuid(0), and only the provider can say whether it answers.
Result<User> CheckedProvider::user_by_uid(std::uint32_t uid) {
  auto u = inner_->user_by_uid(uid);
  if (!u) return u;
  const std::string what = "user \"" + printable(u->name) + "\" (uid " + std::to_string(u->uid) + ")";
  if (u->uid != uid) {
    return core::error(refuse(what, "the answer to a lookup of uid " + std::to_string(uid) + " has another uid"));
  }
  if (auto why = user_refusal(*u)) return core::error(refuse(what, *why));
  return u;
}

Result<Group> CheckedProvider::group_by_name(std::string_view name) {
  if (invalid_name_reason(name) != nullptr) return core::error(Status::not_found("no such group"));
  auto g = inner_->group_by_name(name);
  if (!g) return g;
  const std::string what = "group \"" + printable(g->name) + "\"";
  if (g->name != name) {
    return core::error(refuse(what, "the answer to a lookup of \"" + printable(name) + "\" names another group"));
  }
  if (auto why = group_refusal(*g)) return core::error(refuse(what, *why));
  return g;
}

Result<Group> CheckedProvider::group_by_gid(std::uint32_t gid) {
  auto g = inner_->group_by_gid(gid);
  if (!g) return g;
  const std::string what = "group \"" + printable(g->name) + "\" (gid " + std::to_string(g->gid) + ")";
  if (g->gid != gid) {
    return core::error(refuse(what, "the answer to a lookup of gid " + std::to_string(gid) + " has another gid"));
  }
  if (auto why = group_refusal(*g)) return core::error(refuse(what, *why));
  return g;
}

Result<std::vector<std::uint32_t>> CheckedProvider::initgroups(std::string_view user) {
  if (invalid_name_reason(user) != nullptr) return core::error(Status::not_found("no such user"));
  auto gids = inner_->initgroups(user);
  if (!gids) return gids;
  std::erase_if(*gids, [&](std::uint32_t gid) {
    const char* why = refused_id_reason(gid, ids_);
    if (why != nullptr) {
      ++refused_;
      core::log_warning("provider " + name() + ": gid " + std::to_string(gid) + " in the groups of \"" +
                        printable(user) + "\" refused: " + why);
    }
    return why != nullptr;
  });
  return gids;
}

Result<Page<User>> CheckedProvider::users_page(std::uint32_t cursor, std::uint32_t max) {
  auto page = inner_->users_page(cursor, max);
  if (!page) return page;
  std::erase_if(page->records, [&](const User& u) {
    auto why = user_refusal(u);
    if (why) (void)refuse("user \"" + printable(u.name) + "\" (uid " + std::to_string(u.uid) + ")", *why);
    return why.has_value();
  });
  return page;
}

Result<Page<Group>> CheckedProvider::groups_page(std::uint32_t cursor, std::uint32_t max) {
  auto page = inner_->groups_page(cursor, max);
  if (!page) return page;
  std::erase_if(page->records, [&](Group& g) {
    auto why = group_refusal(g);
    if (why) (void)refuse("group \"" + printable(g.name) + "\" (gid " + std::to_string(g.gid) + ")", *why);
    return why.has_value();
  });
  return page;
}

// A user whose record is refused does not exist here: a success or a verdict
// about them is "not found". Checked after the provider's answer, so that a
// provider that does not authenticate (the remote one) costs no lookup.
Status CheckedProvider::authenticate(std::string_view user, std::string_view password) {
  Status st = inner_->authenticate(user, password);
  if (!st) return st;
  auto u = user_by_name(user);
  return u ? Status::ok() : u.error();
}

Result<proto::Account> CheckedProvider::account(std::string_view user) {
  auto a = inner_->account(user);
  if (!a) return a;
  auto u = user_by_name(user);
  if (!u) return core::error(u.error());
  return a;
}

std::vector<std::pair<std::string, std::string>> CheckedProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("records_refused", std::to_string(refused_));
  return out;
}

}  // namespace fastid::providers
