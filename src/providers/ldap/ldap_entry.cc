// The mapping of one LDAP entry to a passwd record or a group's head
// (ldap_entry.h): what the LDAP provider checks before it serves a value.
#include "providers/ldap/ldap_entry.h"

#include <utility>

#include "providers/ldap/ldap_values.h"

namespace fastid::providers::ldap {

const std::vector<std::string>* Entry::values(const std::string& attr_lower) const {
  auto it = attrs.find(attr_lower);
  return it == attrs.end() || it->second.empty() ? nullptr : &it->second;
}

std::string Entry::first(const std::string& attr_lower) const {
  const auto* v = values(attr_lower);
  return v ? v->front() : std::string();
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {

template <typename T>
Mapped<T> not_mapped(Outcome outcome, std::string why) {
  Mapped<T> m;
  m.outcome = outcome;
  m.why = std::move(why);
  return m;
}

// The name the entry is served under: `want` if it is one of its values
// (never case-folded), else the first.
std::optional<std::string> pick_name(const std::vector<std::string>& names, std::string_view want) {
  if (want.empty()) return names.front();
  for (const auto& n : names) {
    if (n == want) return n;
  }
  return std::nullopt;
}

std::string not_an_id(const std::string& attr, const std::string& value) {
  return attr + " \"" + printable(value) + "\" is not an id in 0..4294967294";
}

}  // namespace

Mapped<model::User> user_of_entry(const UserAttributes& a, const Entry& e, std::string_view want) {
  using M = Mapped<model::User>;
  const auto* names = e.values(lowered(a.name));
  if (names == nullptr) return not_mapped<model::User>(Outcome::kSkipped, "no " + a.name);
  const auto* uids = e.values(lowered(a.uid));
  if (uids == nullptr) return not_mapped<model::User>(Outcome::kSkipped, "no " + a.uid);
  const auto* gids = e.values(lowered(a.gid));
  if (gids == nullptr) return not_mapped<model::User>(Outcome::kSkipped, "no " + a.gid);
  auto name = pick_name(*names, want);
  if (!name) return not_mapped<model::User>(Outcome::kNotWanted, {});
  if (const char* why = invalid_name_reason(*name)) {
    return not_mapped<model::User>(Outcome::kRejected,
                                   std::string(why) + " (" + a.name + " \"" + printable(*name) + "\")");
  }
  auto uid = parse_id(uids->front());
  if (!uid) return not_mapped<model::User>(Outcome::kRejected, not_an_id(a.uid, uids->front()));
  auto gid = parse_id(gids->front());
  if (!gid) return not_mapped<model::User>(Outcome::kRejected, not_an_id(a.gid, gids->front()));
  model::User u;
  u.name = *name;
  u.uid = *uid;
  u.gid = *gid;
  u.gecos = e.first(lowered(a.gecos));
  u.dir = e.first(lowered(a.home));
  u.shell = e.first(lowered(a.shell));
  for (const auto& [field, attr] :
       {std::pair{&u.gecos, &a.gecos}, std::pair{&u.dir, &a.home}, std::pair{&u.shell, &a.shell}}) {
    if (const char* why = invalid_field_reason(*field)) {
      return not_mapped<model::User>(Outcome::kRejected,
                                     std::string(why) + " (" + *attr + " \"" + printable(*field) + "\")");
    }
  }
  M m;
  m.outcome = Outcome::kMapped;
  m.record = std::move(u);
  return m;
}

Mapped<model::Group> group_head_of_entry(const GroupAttributes& a, const Entry& e, std::string_view want) {
  const auto* names = e.values(lowered(a.name));
  if (names == nullptr) return not_mapped<model::Group>(Outcome::kSkipped, "no " + a.name);
  const auto* gids = e.values(lowered(a.gid));
  if (gids == nullptr) return not_mapped<model::Group>(Outcome::kSkipped, "no " + a.gid);
  auto name = pick_name(*names, want);
  if (!name) return not_mapped<model::Group>(Outcome::kNotWanted, {});
  if (const char* why = invalid_name_reason(*name)) {
    return not_mapped<model::Group>(Outcome::kRejected,
                                    std::string(why) + " (" + a.name + " \"" + printable(*name) + "\")");
  }
  auto gid = parse_id(gids->front());
  if (!gid) return not_mapped<model::Group>(Outcome::kRejected, not_an_id(a.gid, gids->front()));
  Mapped<model::Group> m;
  m.outcome = Outcome::kMapped;
  m.record.emplace();
  m.record->name = *name;
  m.record->gid = *gid;
  return m;
}

}  // namespace fastid::providers::ldap
