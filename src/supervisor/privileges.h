// Dropping privileges: the supervisor opens what needs root (listeners on
// low ports, sockets in /run, the pid file and log) and resolves the target
// identity once, before it forks; each front worker then drops to it for
// good (groups, gid, uid — in that order, so that nothing can be regained).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace fastid::supervisor {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // for logs: "fastid (uid 998, gid 998)"
};

// Resolves `user` and `group` (names or numeric ids; group "" = the user's
// primary group). A numeric uid needs no lookup at all; a name is looked up
// through NSS once, here, before any front worker serves. Errors name what is wrong.
core::Result<Identity> resolve_identity(const std::string& user, const std::string& group);

// A directory inside the handed-over one: created by root if `create` and
// missing, else handed over only if it exists.
struct Subdirectory {
  std::string name;  // one component: "mc", "store"
  bool create = false;
};

// Gives `dir`, its `subdirs` and what lies directly inside them to the
// identity, so that the front workers can write their state after the drop. Run as
// root at every start, on directories the identity controls: nothing is
// reached through a path the identity could change (each subdirectory and
// entry is opened relative to its parent without following links), a
// subdirectory that is not a directory stops the start, and entries other
// than directories and single-link regular files are left alone.
core::Status hand_over(const Identity& who, const std::string& dir, const std::vector<Subdirectory>& subdirs);

// Creates `socket_dir`/cache-owner (fastcache::kCacheOwnerMarker) afresh,
// owned by `uid`: the user whose fast cache maps clients trust. Run by root
// on the root-owned socket directory, before any front worker publishes.
core::Status mark_cache_owner(const std::string& socket_dir, uid_t uid);

// setgroups({gid}), setgid, setuid; then checks that uid 0 cannot be regained.
// Clears the dumpable flag and re-arms the parent-death signal, both of
// which a credential change resets.
core::Status drop_to(const Identity& who);

}  // namespace fastid::supervisor
