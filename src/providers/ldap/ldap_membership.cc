// The level-by-level walk of nested groups shared by group lookups and
// initgroups (ldap_membership.h).
#include "providers/ldap/ldap_membership.h"

namespace fastid::providers::ldap {

core::Status walk_nesting(std::vector<NestNode> start, int depth, std::set<std::string>& seen,
                          const NestStep& step) {
  if (depth < 0) depth = 0;
  std::vector<NestNode> level_nodes;
  for (auto& n : start) {
    if (seen.insert(n.key).second) level_nodes.push_back(std::move(n));
  }
  for (int level = 0; !level_nodes.empty(); ++level) {
    const bool last = level >= depth;
    auto next = step(level, level_nodes, last, seen);
    if (!next) return next.error();
    if (last) break;
    level_nodes.clear();
    for (auto& n : *next) {
      if (seen.insert(n.key).second) level_nodes.push_back(std::move(n));
    }
  }
  return core::Status::ok();
}

}  // namespace fastid::providers::ldap
