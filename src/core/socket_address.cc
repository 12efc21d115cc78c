// The one HOST:PORT resolver (socket_address.h).
#include "core/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "core/text.h"

namespace fastid::core {

Result<SocketAddress> resolve_host_port(std::string_view text) {
  auto hp = parse_host_port(text);
  if (!hp) return error(hp.error());
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET, hp->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp->port);
    out.len = sizeof *v4;
    out.family = AF_INET;
  } else if (::inet_pton(AF_INET6, hp->host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp->port);
    out.len = sizeof *v6;
    out.family = AF_INET6;
  } else {
    return error(Status::invalid_argument("not a numeric address: " + std::string(text)));
  }
  return out;
}

}  // namespace fastid::core
