// The LDAP provider's entries as records: a user or group entry mapped to a
// User or Group by the attribute maps and checked (names, ids, fields), a
// group's members resolved through nested groups, and the one entry of a
// name (two are ambiguous) (ldap_provider_impl.h).
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "core/log.h"
#include "proto/wire.h"
#include "providers/ldap/ldap_membership.h"
#include "providers/ldap/ldap_provider_impl.h"

namespace fastid::providers {

namespace ldap {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace ldap

void LdapProvider::Impl::skip_entry(P& p, const Entry& e, const std::string& why) {
  ++p.skipped_;
  core::log_warning(log_prefix(p) + "entry " + printable(e.dn) + " skipped: " + why);
}

void LdapProvider::Impl::reject_entry(P& p, const Entry& e, const std::string& why) {
  ++p.rejected_;
  core::log_warning(log_prefix(p) + "entry " + printable(e.dn) + " rejected: " + why);
}

std::vector<std::string> LdapProvider::Impl::user_attr_list(const P& p) {
  return {p.ua_.name, p.ua_.uid, p.ua_.gid, p.ua_.gecos, p.ua_.home, p.ua_.shell};
}

std::vector<std::string> LdapProvider::Impl::group_attr_list(const P& p) {
  std::vector<std::string> out = {p.ga_.name, p.ga_.gid, p.ga_.member_uid};
  if (p.schema_ == Schema::kRfc2307bis) out.push_back(p.ga_.member);
  return out;
}

// The name the entry is served under: `want` if it is one of its values
// (a lookup by name matches exactly, never case-folded), else the first.
std::optional<std::string> LdapProvider::Impl::pick_name(const std::vector<std::string>& names,
                                                         std::string_view want) {
  if (want.empty()) return names.front();
  for (const auto& n : names) {
    if (n == want) return n;
  }
  return std::nullopt;
}

std::optional<User> LdapProvider::Impl::to_user(P& p, const Entry& e, std::string_view want) {
  const auto* names = e.values(lowered(p.ua_.name));
  if (names == nullptr) return skip_entry(p, e, "no " + p.ua_.name), std::nullopt;
  const auto* uids = e.values(lowered(p.ua_.uid));
  if (uids == nullptr) return skip_entry(p, e, "no " + p.ua_.uid), std::nullopt;
  const auto* gids = e.values(lowered(p.ua_.gid));
  if (gids == nullptr) return skip_entry(p, e, "no " + p.ua_.gid), std::nullopt;
  auto name = pick_name(*names, want);
  if (!name) return std::nullopt;
  if (const char* why = invalid_name_reason(*name)) {
    return reject_entry(p, e, std::string(why) + " (" + p.ua_.name + " \"" + printable(*name) + "\")"),
           std::nullopt;
  }
  auto uid = parse_id(uids->front());
  if (!uid) {
    return reject_entry(p, e, p.ua_.uid + " \"" + printable(uids->front()) + "\" is not an id in 0..4294967294"),
           std::nullopt;
  }
  auto gid = parse_id(gids->front());
  if (!gid) {
    return reject_entry(p, e, p.ua_.gid + " \"" + printable(gids->front()) + "\" is not an id in 0..4294967294"),
           std::nullopt;
  }
  User u;
  u.name = *name;
  u.uid = *uid;
  u.gid = *gid;
  u.gecos = e.first(lowered(p.ua_.gecos));
  u.dir = e.first(lowered(p.ua_.home));
  u.shell = e.first(lowered(p.ua_.shell));
  for (const auto& [field, attr] : {std::pair{&u.gecos, &p.ua_.gecos}, std::pair{&u.dir, &p.ua_.home},
                                    std::pair{&u.shell, &p.ua_.shell}}) {
    if (const char* why = invalid_field_reason(*field)) {
      return reject_entry(p, e, std::string(why) + " (" + *attr + " \"" + printable(*field) + "\")"),
             std::nullopt;
    }
  }
  return u;
}

// The group's own fields, members not yet resolved.
std::optional<Group> LdapProvider::Impl::to_group_head(P& p, const Entry& e, std::string_view want) {
  const auto* names = e.values(lowered(p.ga_.name));
  if (names == nullptr) return skip_entry(p, e, "no " + p.ga_.name), std::nullopt;
  const auto* gids = e.values(lowered(p.ga_.gid));
  if (gids == nullptr) return skip_entry(p, e, "no " + p.ga_.gid), std::nullopt;
  auto name = pick_name(*names, want);
  if (!name) return std::nullopt;
  if (const char* why = invalid_name_reason(*name)) {
    return reject_entry(p, e, std::string(why) + " (" + p.ga_.name + " \"" + printable(*name) + "\")"),
           std::nullopt;
  }
  auto gid = parse_id(gids->front());
  if (!gid) {
    return reject_entry(p, e, p.ga_.gid + " \"" + printable(gids->front()) + "\" is not an id in 0..4294967294"),
           std::nullopt;
  }
  Group g;
  g.name = *name;
  g.gid = *gid;
  return g;
}

void LdapProvider::Impl::add_member(P& p, const Entry& group, Members& m, const std::string& name) {
  if (const char* why = invalid_name_reason(name)) {
    ++p.rejected_;
    core::log_warning(log_prefix(p) + "group " + printable(group.dn) + ": member \"" + printable(name) +
                      "\" dropped: " + why);
    return;
  }
  if (m.seen.insert(name).second) m.names.push_back(name);
}

// Adds what `e` lists directly; DNs that need a search go to `pending` (key -> DN).
void LdapProvider::Impl::take_direct(P& p, const Entry& e, Members& m, std::map<std::string, std::string>& pending,
                                     const std::set<std::string>& visited) {
  if (const auto* uids = e.values(lowered(p.ga_.member_uid))) {
    for (const auto& n : *uids) add_member(p, e, m, n);
  }
  if (p.schema_ != Schema::kRfc2307bis) return;
  const auto* dns = e.values(lowered(p.ga_.member));
  if (dns == nullptr) return;
  const std::string name_attr = lowered(p.ua_.name);
  for (const auto& dn : *dns) {
    auto rdn = first_rdn(dn);
    if (!rdn) {
      ++p.rejected_;
      core::log_warning(log_prefix(p) + "group " + printable(e.dn) + ": member \"" + printable(dn) +
                        "\" is not a DN; dropped");
      continue;
    }
    // Only a value without upper-case letters is taken as the name: DN
    // matching ignores case (initgroups finds "uid=ALICE,…" for alice), the
    // name does not, so such a DN is looked up for the entry's own uid.
    const bool folded = std::none_of(rdn->value.begin(), rdn->value.end(),
                                     [](char c) { return c >= 'A' && c <= 'Z'; });
    if (p.rdn_names_users_ && folded && rdn->attr == name_attr &&
        under(rdn->parent_key, p.user_base_key_, p.user_scope_)) {
      add_member(p, e, m, rdn->value);
      continue;
    }
    auto key = dn_key(dn);
    if (key && !visited.contains(*key)) pending.emplace(*key, dn);
  }
}

// Whether an entry whose parent has DN key `parent` is within the scope of
// a search of `base` (keys as dn_key makes them: RDNs joined by ',', with
// ',' inside values escaped as "\,").
bool LdapProvider::Impl::under(const std::string& parent, const std::string& base, Scope scope) {
  if (parent == base) return scope != Scope::kBase;
  if (scope != Scope::kSub) return false;
  if (base.empty()) return true;
  if (parent.size() <= base.size() + 1) return false;
  const std::size_t at = parent.size() - base.size() - 1;
  if (parent[at] != ',' || parent.compare(at + 1, std::string::npos, base) != 0) return false;
  std::size_t backslashes = 0;
  for (std::size_t i = at; i > 0 && parent[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;  // an escaped ',' belongs to a value
}

std::string LdapProvider::Impl::or_of_rdns(const std::vector<std::pair<std::string, std::string>>& chunk) {
  std::string f = "(|";
  for (const auto& [key, dn] : chunk) {
    auto rdn = first_rdn(dn);
    if (rdn) f += equality_filter(rdn->attr, rdn->value);
  }
  return f + ")";
}

// The members of `group` flattened through the groups nested in it, walked
// by walk_nesting as memberships() walks a user's groups (the same depth,
// each group once): per level reached, one search of the groups among the
// member DNs that need one (none at the last level) and one of the users
// left, in chunks of kTermsPerSearch; a DN resolved once is not searched
// again within the lookup.
Status LdapProvider::Impl::resolve_members(P& p, const Entry& group, Members& m) {
  std::map<std::string, Entry> groups;  // key -> entry of the groups reached
  const std::string root = dn_key(group.dn).value_or(group.dn);
  groups.emplace(root, group);
  std::set<std::string> not_groups;  // keys searched as groups and users: done
  std::set<std::string> seen;
  auto step = [&](int, const std::vector<ldap::NestNode>& nodes, bool last,
                  const std::set<std::string>& reached) -> Result<std::vector<ldap::NestNode>> {
    std::map<std::string, std::string> pending;  // key -> DN of members that need a search
    for (const auto& n : nodes) take_direct(p, groups.at(n.key), m, pending, reached);
    std::erase_if(pending, [&](const auto& kv) { return not_groups.contains(kv.first); });
    std::vector<ldap::NestNode> next;
    const std::vector<std::pair<std::string, std::string>> all(pending.begin(), pending.end());
    for (std::size_t i = 0; i < all.size(); i += kTermsPerSearch) {
      std::vector<std::pair<std::string, std::string>> chunk(
          all.begin() + static_cast<std::ptrdiff_t>(i),
          all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + kTermsPerSearch)));
      std::map<std::string, std::string> rest(chunk.begin(), chunk.end());
      const std::string ors = or_of_rdns(chunk);
      if (!last) {
        auto found = search(p, p.group_base_, p.group_scope_, "(&" + p.options_.group_filter + ors + ")",
                            group_attr_list(p));
        if (!found) return core::error(found.error());
        for (auto& g : *found) {
          auto k = dn_key(g.dn);
          if (!k || !rest.contains(*k)) continue;
          rest.erase(*k);
          next.push_back({*k, g.dn});
          groups.emplace(*k, std::move(g));
        }
      }
      if (rest.empty()) continue;
      auto users = search(p, p.user_base_, p.user_scope_, "(&" + p.options_.user_filter + ors + ")",
                          {p.ua_.name});
      if (!users) return core::error(users.error());
      for (const auto& u : *users) {
        auto k = dn_key(u.dn);
        if (!k || !rest.contains(*k)) continue;
        if (const auto* names = u.values(lowered(p.ua_.name))) add_member(p, group, m, names->front());
      }
      // Searched as a group (unless at the last level) and as a user.
      if (!last) {
        for (const auto& kv : rest) not_groups.insert(kv.first);
      }
    }
    return next;
  };
  const int depth = p.schema_ == Schema::kRfc2307bis ? p.options_.nesting_depth : 0;
  return ldap::walk_nesting({{root, group.dn}}, depth, seen, step);
}

Result<Group> LdapProvider::Impl::to_group(P& p, const Entry& e, std::string_view want) {
  auto g = to_group_head(p, e, want);
  if (!g) return core::error(Status::not_found(""));
  Members m;
  Status st = resolve_members(p, e, m);
  if (!st) return core::error(st);
  if (m.names.size() > proto::kMaxGroupMembers) {
    reject_entry(p, e, std::to_string(m.names.size()) + " members, more than the protocol carries (" +
                           std::to_string(proto::kMaxGroupMembers) + ")");
    return core::error(Status::not_found(""));
  }
  g->members = std::move(m.names);
  return std::move(*g);
}

// The one entry of `entries` that has `want` among its `attr` values
// (exactly, as a lookup by name matches): nullptr when none does; two or
// more are ambiguous — the name could stand for either, so it stands for
// neither (logged with their DNs, answered "not found").
Result<const Entry*> LdapProvider::Impl::only_named(P& p, const std::vector<Entry>& entries, const std::string& attr,
                                                    std::string_view want, const char* kind) {
  const Entry* found = nullptr;
  std::string dns;
  int count = 0;
  for (const auto& e : entries) {
    const auto* names = e.values(lowered(attr));
    if (names == nullptr || std::find(names->begin(), names->end(), want) == names->end()) continue;
    if (count++ == 0) found = &e;
    dns += (dns.empty() ? "" : "; ") + printable(e.dn);
  }
  if (count <= 1) return found;
  ++p.ambiguous_;
  core::log_warning(log_prefix(p) + std::to_string(count) + " " + kind + " entries named \"" + printable(want) +
                    "\" (" + dns + "): ambiguous, refused");
  return core::error(Status::not_found(prefix(p) + "ambiguous " + kind + " name: " + std::to_string(count) +
                                       " entries"));
}

Result<User> LdapProvider::Impl::one_user(P& p, const std::string& term, std::string_view want) {
  auto entries = search(p, p.user_base_, p.user_scope_, "(&" + p.options_.user_filter + term + ")",
                        user_attr_list(p));
  if (!entries) return core::error(entries.error());
  if (!want.empty()) {
    auto only = only_named(p, *entries, p.ua_.name, want, "user");
    if (!only) return core::error(only.error());
    if (*only != nullptr) {
      if (auto u = to_user(p, **only, want)) return std::move(*u);
    }
    return core::error(Status::not_found(prefix(p) + "no such user"));
  }
  for (const auto& e : *entries) {
    if (auto u = to_user(p, e, want)) return std::move(*u);
  }
  return core::error(Status::not_found(prefix(p) + "no such user"));
}

Result<Group> LdapProvider::Impl::one_group(P& p, const std::string& term, std::string_view want) {
  auto entries = search(p, p.group_base_, p.group_scope_, "(&" + p.options_.group_filter + term + ")",
                        group_attr_list(p));
  if (!entries) return core::error(entries.error());
  if (!want.empty()) {
    auto only = only_named(p, *entries, p.ga_.name, want, "group");
    if (!only) return core::error(only.error());
    if (*only == nullptr) return core::error(Status::not_found(prefix(p) + "no such group"));
    auto g = to_group(p, **only, want);
    if (g || g.error().code() != core::Code::kNotFound) return g;
    return core::error(Status::not_found(prefix(p) + "no such group"));
  }
  for (const auto& e : *entries) {
    auto g = to_group(p, e, want);
    if (g) return g;
    if (g.error().code() != core::Code::kNotFound) return g;
  }
  return core::error(Status::not_found(prefix(p) + "no such group"));
}

// The entry of a user by exact name (DN and requested attributes); two
// entries of that name are ambiguous (not found): nothing binds as either.
Result<Entry> LdapProvider::Impl::user_entry(P& p, std::string_view name, std::vector<std::string> attrs) {
  if (invalid_name_reason(name) != nullptr) return core::error(Status::not_found(prefix(p) + "no such user"));
  attrs.push_back(p.ua_.name);
  auto entries = search(p, p.user_base_, p.user_scope_,
                        "(&" + p.options_.user_filter + equality_filter(p.ua_.name, name) + ")", attrs);
  if (!entries) return core::error(entries.error());
  auto only = only_named(p, *entries, p.ua_.name, name, "user");
  if (!only) return core::error(only.error());
  if (*only == nullptr) return core::error(Status::not_found(prefix(p) + "no such user"));
  return **only;
}

}  // namespace fastid::providers
