// Opening the network listeners of [listen]. The supervisor opens them once,
// before any front worker exists; front workers inherit the descriptors and share them.
// Every fd is O_CLOEXEC and non-blocking (losing a race for a connection or a
// datagram is then EAGAIN, never a hang).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::server {

struct NetListener {
  int fd = -1;
  std::string bound;  // the address actually bound, "127.0.0.1:7389" (port 0 resolved)
};

// `address` is "HOST:PORT" or "[V6]:PORT" with a numeric host (the [listen]
// syntax). SO_REUSEADDR is set so that a restart does not wait for TIME_WAIT.
core::Result<NetListener> open_tcp_listener(std::string_view address, int backlog = 1024);
core::Result<NetListener> open_udp_listener(std::string_view address);

}  // namespace fastid::server
