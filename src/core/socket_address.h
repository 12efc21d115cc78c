// SocketAddress: "HOST:PORT" / "[V6]:PORT" (numeric host, core/text.h's syntax)
// as a sockaddr for bind() and connect(). The one resolver of the listeners and
// the network clients; no name lookups (no DNS on any path of the daemon).
#pragma once

#include <sys/socket.h>

#include <string_view>

#include "core/status.h"

namespace fastid::core {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

// kInvalidArgument (parse_host_port's message) when `text` is not HOST:PORT
// with a numeric IPv4 or IPv6 address.
Result<SocketAddress> resolve_host_port(std::string_view text);

}  // namespace fastid::core
