#include "supervisor/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace fastid::supervisor {

PidFile::~PidFile() { release(); }

core::Status PidFile::acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return core::status_from_errno(errno, "pid file " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (e == EWOULDBLOCK) {
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return core::Status::busy("another fastidd (pid " + holder + ") holds the pid file " + path);
    }
    return core::status_from_errno(e, "lock pid file " + path);
  }
  fd_ = fd;
  path_ = path;
  return update();
}

core::Status PidFile::update() {
  if (fd_ < 0) return core::Status::ok();
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return core::status_from_errno(errno, "write pid file " + path_);
  }
  return core::Status::ok();
}

void PidFile::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);  // drops the lock
  fd_ = -1;
}

}  // namespace fastid::supervisor
