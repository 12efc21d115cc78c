#include "server/net_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/socket_address.h"

namespace fastid::server {
namespace {

using SockAddr = core::SocketAddress;

std::string describe_bound(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  // Appended, not `"[" + std::string(host)`: inserting at the front of a
  // temporary trips GCC 12's -Wrestrict false positive at -O2/-O3.
  std::string out = "[";
  out += host;
  out += "]:";
  out += std::to_string(ntohs(a->sin6_port));
  return out;
}

core::Result<NetListener> open_socket(std::string_view address, int type, int backlog) {
  auto addr = core::resolve_host_port(address);
  if (!addr) return core::error(addr.error());
  const char* kind = type == SOCK_STREAM ? "tcp " : "udp ";
  int fd = ::socket(addr->family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core::error(core::status_from_errno(errno, std::string(kind) + "socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr->storage), addr->len) != 0) {
    int e = errno;
    ::close(fd);
    return core::error(core::status_from_errno(e, std::string("bind ") + kind + std::string(address)));
  }
  if (type == SOCK_STREAM && ::listen(fd, backlog) != 0) {
    int e = errno;
    ::close(fd);
    return core::error(core::status_from_errno(e, std::string("listen ") + kind + std::string(address)));
  }
  return NetListener{fd, describe_bound(fd)};
}

}  // namespace

core::Result<NetListener> open_tcp_listener(std::string_view address, int backlog) {
  return open_socket(address, SOCK_STREAM, backlog);
}

core::Result<NetListener> open_udp_listener(std::string_view address) {
  return open_socket(address, SOCK_DGRAM, 0);
}

}  // namespace fastid::server
