#include "server/unix_listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fastid::server {

using core::Result;
using core::Status;

Status ensure_directory(const std::string& dir, mode_t mode) {
  if (dir.empty()) return Status::invalid_argument("empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return core::status_from_errno(errno, "mkdir " + partial);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return core::status_from_errno(errno, "stat " + dir);
  if (!S_ISDIR(st.st_mode)) return Status::invalid_argument(dir + " is not a directory");
  return Status::ok();
}

Status check_writable_directory(const std::string& what, const std::string& dir) {
  const std::string probe = dir + "/.fastidd-write-check." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    return Status(core::Code::kIoError, what + " " + dir + " is not writable: " + std::strerror(err), err);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::ok();
}

namespace {

bool fill_address(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// True if something accepts connections on `path` right now.
bool socket_answers(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool answers = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answers;
}

}  // namespace

Result<int> open_unix_listener(const std::string& path, mode_t mode, int backlog) {
  sockaddr_un addr;
  if (!fill_address(path, &addr)) {
    return core::error(Status::invalid_argument("socket path too long: " + path));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return core::error(
          Status::invalid_argument(path + " exists and is not a socket; refusing to replace it"));
    }
    if (socket_answers(addr)) {
      return core::error(Status::busy("another fastidd is already listening on " + path));
    }
    ::unlink(path.c_str());  // stale: its daemon is gone
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core::error(core::status_from_errno(errno, "socket"));
  // Bind under a restrictive umask, then set the intended mode: the socket is
  // never reachable with wider permissions than asked for.
  mode_t old_umask = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    ::close(fd);
    return core::error(core::status_from_errno(bind_errno, "bind " + path));
  }
  if (::chmod(path.c_str(), mode) != 0) {
    int e = errno;
    ::close(fd);
    return core::error(core::status_from_errno(e, "chmod " + path));
  }
  if (::listen(fd, backlog) != 0) {
    int e = errno;
    ::close(fd);
    return core::error(core::status_from_errno(e, "listen " + path));
  }
  return fd;
}

}  // namespace fastid::server
