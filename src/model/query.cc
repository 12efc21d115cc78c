// Query helpers: what a kind is keyed on, which answer it takes, how it reads in a log.
#include "model/query.h"

namespace fastid::model {

bool keyed_by_name(Kind kind) {
  return kind == Kind::kUserByName || kind == Kind::kGroupByName || kind == Kind::kInitgroups ||
         kind == Kind::kNetgroup || kind == Kind::kSshKeys;
}

bool keyed_by_id(Kind kind) { return kind == Kind::kUserByUid || kind == Kind::kGroupByGid; }

bool is_page(Kind kind) { return kind == Kind::kUsersPage || kind == Kind::kGroupsPage; }

std::size_t answer_index(Kind kind) {
  switch (kind) {
    case Kind::kUserByName:
    case Kind::kUserByUid:
      return 0;
    case Kind::kGroupByName:
    case Kind::kGroupByGid:
      return 1;
    case Kind::kInitgroups:
      return 2;
    case Kind::kUsersPage:
      return 3;
    case Kind::kGroupsPage:
      return 4;
    case Kind::kNetgroup:
      return 5;
    case Kind::kSshKeys:
      return 6;
  }
  return std::variant_npos;
}

core::Status check_answer(const Query& query, const Answer& answer) {
  if (answer.index() == answer_index(query.kind)) return core::Status::ok();
  return core::Status::corruption("an answer of another kind to " + describe(query));
}

std::string describe(const Query& q) {
  switch (q.kind) {
    case Kind::kUserByName:
      return "user " + q.name;
    case Kind::kUserByUid:
      return "uid " + std::to_string(q.id);
    case Kind::kGroupByName:
      return "group " + q.name;
    case Kind::kGroupByGid:
      return "gid " + std::to_string(q.id);
    case Kind::kInitgroups:
      return "the groups of " + q.name;
    case Kind::kUsersPage:
      return "users page at " + std::to_string(q.cursor);
    case Kind::kGroupsPage:
      return "groups page at " + std::to_string(q.cursor);
    case Kind::kNetgroup:
      return "netgroup " + q.name;
    case Kind::kSshKeys:
      return "the SSH keys of " + q.name;
  }
  return "?";
}

}  // namespace fastid::model
