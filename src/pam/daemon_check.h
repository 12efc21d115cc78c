// The checks a client makes on fastidd's pam socket before it sends a
// password there: the socket file must be a socket owned by root (lstat, so a
// link is refused), and the process listening on it must be root
// (SO_PEERCRED: the listener's credentials, which nobody can forge). A
// socket directory writable by others lets anyone put a socket of their own
// at the path; the peer check is what stops that, whatever the directory.
//
// Used by pam_fastid.so and by `fastid auth`, so it is header-only and
// libc-only like proto/wire.h: no C++ runtime, no allocation, no exceptions.
#pragma once

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace fastid::pam {

enum class DaemonCheck {
  kOk,
  kNoSocket,       // lstat failed; errno says why
  kNotRootSocket,  // not a socket, or not root's
  kPeerNotRoot,    // the listener is not root (or its credentials are unknown)
};

// Before connecting: `path` is a socket owned by root.
inline DaemonCheck check_socket_file(const char* path) {
  struct stat st;
  if (lstat(path, &st) != 0) return DaemonCheck::kNoSocket;
  if (!S_ISSOCK(st.st_mode) || st.st_uid != 0) return DaemonCheck::kNotRootSocket;
  return DaemonCheck::kOk;
}

// After connecting, before anything is sent: the listener is root.
inline DaemonCheck check_peer(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred || cred.uid != 0) {
    return DaemonCheck::kPeerNotRoot;
  }
  return DaemonCheck::kOk;
}

// Why a check failed, for logs and error messages ("refusing PATH: ...").
inline const char* daemon_check_reason(DaemonCheck c) {
  switch (c) {
    case DaemonCheck::kOk:
      return "ok";
    case DaemonCheck::kNoSocket:
      return "no socket";
    case DaemonCheck::kNotRootSocket:
      return "not a socket owned by root";
    case DaemonCheck::kPeerNotRoot:
      return "the daemon behind it is not root";
  }
  return "unknown";
}

}  // namespace fastid::pam
