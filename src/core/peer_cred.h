// PeerCred: who is on the other end of a Unix socket (SO_PEERCRED), read once when
// the connection is accepted. An immutable value passed explicitly, by value, to
// whatever needs it (never kept in globals or thread-local state); any thread may copy it.
#pragma once

#include <sys/types.h>

#include "core/status.h"

namespace fastid::core {

struct PeerCred {
  const pid_t pid;
  const uid_t uid;
  const gid_t gid;

  bool is_root() const noexcept { return uid == 0; }
  friend bool operator==(const PeerCred&, const PeerCred&) = default;
};

// The credentials the kernel recorded for the peer of the connected Unix socket
// `fd` (at connect(2) or socketpair(2) time). kIoError with the errno when fd is
// not a socket; kInvalidArgument when the socket has no peer (not connected, or
// not AF_UNIX): an unknown caller is never mistaken for a real uid.
Result<PeerCred> peer_cred_of(int fd);

}  // namespace fastid::core
