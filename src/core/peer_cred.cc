#include "core/peer_cred.h"

#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace fastid::core {

Result<PeerCred> peer_cred_of(int fd) {
  struct ucred uc{};
  socklen_t len = sizeof uc;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
    return error(status_from_errno(errno, "getsockopt(SO_PEERCRED)"));
  }
  // The kernel answers pid 0, uid and gid -1 for a socket without a peer
  // (unconnected, or a family that does not record credentials). uid -1 would
  // otherwise read as a real, if odd, caller.
  if (len != sizeof uc || uc.uid == static_cast<uid_t>(-1) || uc.gid == static_cast<gid_t>(-1)) {
    return error(Status::invalid_argument("getsockopt(SO_PEERCRED): fd " + std::to_string(fd) +
                                          " has no peer credentials"));
  }
  return PeerCred{uc.pid, uc.uid, uc.gid};
}

}  // namespace fastid::core
