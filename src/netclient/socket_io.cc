// Deadline-bounded socket I/O for NetClient and its TLS session (socket_io.h).
#include "netclient/socket_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace fastid::netclient {
namespace {

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

core::Status send_all(int fd, const std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      if (!wait_for(fd, POLLOUT, deadline)) return core::Status::timeout("send: timed out");
      continue;
    }
    return core::Status::unavailable(std::string("send: ") + std::strerror(errno));
  }
  return core::Status::ok();
}

core::Status recv_some(int fd, std::uint8_t* p, std::size_t n, std::size_t* got, Clock::time_point deadline) {
  for (;;) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r >= 0) {
      *got = static_cast<std::size_t>(r);
      return core::Status::ok();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (!wait_for(fd, POLLIN, deadline)) return core::Status::timeout("no reply in time");
      continue;
    }
    return core::Status::unavailable(std::string("recv: ") + std::strerror(errno));
  }
}

core::Status recv_all(int fd, std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  std::size_t have = 0;
  while (have < n) {
    std::size_t got = 0;
    if (core::Status st = recv_some(fd, p + have, n - have, &got, deadline); !st) return st;
    if (got == 0) return core::Status::unavailable(have == 0 ? "closed" : "connection closed inside a frame");
    have += got;
  }
  return core::Status::ok();
}

}  // namespace fastid::netclient
