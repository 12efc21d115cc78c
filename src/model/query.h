// Query and Answer: one lookup as every layer carries it — the NSS handler,
// the directories (in-process, pooled, stored), the provider pool and its
// workers, the providers, the store and the fast cache. A lookup kind is one
// enumerator of Kind; the places that really differ per kind (a provider's
// search, a codec, a cache map) switch on it, everything else passes the
// pair along.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "core/status.h"
#include "model/records.h"

namespace fastid::model {

enum class Kind : std::uint8_t {
  kUserByName,
  kUserByUid,
  kGroupByName,
  kGroupByGid,
  kInitgroups,  // the gids of the groups that list a user (supplementary groups)
  kUsersPage,   // enumeration: one page of users
  kGroupsPage,  // enumeration: one page of groups
  kNetgroup,    // a netgroup by name: its triples, nested netgroups flattened
  kSshKeys,     // a user's SSH public keys, by user name
};

// What a by-name kind is keyed on (name) and what a by-id kind is (id).
bool keyed_by_name(Kind kind);
bool keyed_by_id(Kind kind);
bool is_page(Kind kind);

struct Query {
  Kind kind = Kind::kUserByName;
  std::string name = {};     // by-name kinds and kInitgroups: the user or group name
  std::uint32_t id = 0;      // by-id kinds: the uid or gid
  std::uint32_t cursor = 0;  // pages: where to start (0 = the first page; opaque otherwise)
  std::uint32_t max = 0;     // pages: at most this many records

  static Query user_by_name(std::string name) { return {Kind::kUserByName, std::move(name)}; }
  static Query user_by_uid(std::uint32_t uid) { return {Kind::kUserByUid, {}, uid}; }
  static Query group_by_name(std::string name) { return {Kind::kGroupByName, std::move(name)}; }
  static Query group_by_gid(std::uint32_t gid) { return {Kind::kGroupByGid, {}, gid}; }
  static Query initgroups(std::string user) { return {Kind::kInitgroups, std::move(user)}; }
  static Query users_page(std::uint32_t cursor, std::uint32_t max) {
    return {Kind::kUsersPage, {}, 0, cursor, max};
  }
  static Query groups_page(std::uint32_t cursor, std::uint32_t max) {
    return {Kind::kGroupsPage, {}, 0, cursor, max};
  }
  static Query netgroup(std::string name) { return {Kind::kNetgroup, std::move(name)}; }
  static Query ssh_keys(std::string user) { return {Kind::kSshKeys, std::move(user)}; }

  bool operator==(const Query&) const = default;
  bool operator<(const Query& o) const {
    return std::tie(kind, name, id, cursor, max) < std::tie(o.kind, o.name, o.id, o.cursor, o.max);
  }
};

using Gids = std::vector<std::uint32_t>;

// The answer to a query: a User for the user kinds, a Group for the group
// kinds, Gids for kInitgroups, a page for the page kinds, a Netgroup for
// kNetgroup, SshKeys for kSshKeys. "No such entry" and
// failures are not answers: they travel as the Result's error (kNotFound,
// kUnavailable, ...).
using Answer = std::variant<User, Group, Gids, Page<User>, Page<Group>, Netgroup, SshKeys>;

// The index in Answer of the alternative that answers `kind`.
std::size_t answer_index(Kind kind);

// kCorruption unless `answer` is the alternative `query.kind` expects (a
// worker's or an upstream's answer is checked before it is believed).
core::Status check_answer(const Query& query, const Answer& answer);

// "user alice", "uid 42", "group staff", "gid 7", "the groups of alice",
// "users page at 10": for logs and error messages. Names are quoted as given.
std::string describe(const Query& query);

// The alternative T of a lookup's answer, or the lookup's error (kInternal
// when the answer is another alternative: a caller asked the wrong question).
template <typename T>
core::Result<T> answer_as(core::Result<Answer> r) {
  if (!r) return core::error(r.error());
  if (T* v = std::get_if<T>(&*r)) return std::move(*v);
  return core::error(core::Status::internal("an answer of another kind than asked"));
}

}  // namespace fastid::model
