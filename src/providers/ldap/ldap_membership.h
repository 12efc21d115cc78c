// Nested group membership (rfc2307bis), walked the same way in both
// directions: the members of a group (down: the groups nested in it) and the
// groups of a user (up: the groups that list the user's groups). Both go
// through walk_nesting, so a group lists a user exactly when the user's
// groups include it: the same depth limit, each group once at its shortest
// distance, a cycle ending where it closes (docs/ldap.md). Pure: the
// searches are the caller's step; no libldap state.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace fastid::providers::ldap {

// A group of the nesting graph: its DN as the directory wrote it and its
// dn_key (the comparable form, ldap_values.h).
struct NestNode {
  std::string key;
  std::string dn;
};

// Called once per level with the groups first reached at that level (level 0:
// the start); `last` is true at level `depth`, where the walk stops: the step
// then takes what the level lists (members, gids) and looks no further.
// Otherwise it returns the neighbours one level further (child groups going
// down, parents going up), in any order, repeats and seen ones allowed.
// `seen` holds the keys reached so far (a step may skip searching for them).
using NestStep = std::function<core::Result<std::vector<NestNode>>(
    int level, const std::vector<NestNode>& nodes, bool last, const std::set<std::string>& seen)>;

// Breadth first from `start` (level 0) to at most `depth` levels beyond it
// (depth < 0 counts as 0): every node reached once, at its shortest distance
// from the start; nodes whose key is in `seen` at the start are never
// visited (a user's own DN, say). Stops at the first error of `step`.
core::Status walk_nesting(std::vector<NestNode> start, int depth, std::set<std::string>& seen,
                          const NestStep& step);

}  // namespace fastid::providers::ldap
