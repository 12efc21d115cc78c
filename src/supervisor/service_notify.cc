#include "supervisor/service_notify.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace fastid::supervisor {

ServiceNotifier ServiceNotifier::from_environment() {
  const char* v = ::getenv("NOTIFY_SOCKET");
  ServiceNotifier n(v != nullptr ? std::string(v) : std::string());
  ::unsetenv("NOTIFY_SOCKET");
  return n;
}

core::Status ServiceNotifier::notify(std::string_view state) const {
  if (address_.empty()) return core::Status::ok();
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  // A path, or '@' for Linux's abstract namespace (a leading NUL byte, and
  // the address length counts exactly the name: no terminator).
  if ((address_[0] != '/' && address_[0] != '@') || address_.size() < 2 ||
      address_.size() > sizeof sa.sun_path - (address_[0] == '/' ? 1 : 0)) {
    return core::Status::invalid_argument("NOTIFY_SOCKET \"" + address_ +
                                          "\": neither an absolute path nor @abstract, or too long");
  }
  std::memcpy(sa.sun_path, address_.data(), address_.size());
  if (address_[0] == '@') sa.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                          (address_[0] == '/' ? 1 : 0));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::status_from_errno(errno, "NOTIFY_SOCKET: socket");
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) return core::status_from_errno(err, "NOTIFY_SOCKET " + address_);
  return core::Status::ok();
}

core::Status ServiceNotifier::reloading() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace fastid::supervisor
