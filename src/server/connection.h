// Server::Connection: one client connection on the front worker's loop. Owned jointly
// by the registry and the two coroutines that serve it (the request loop and
// its watchdog); never destroyed from inside its own callbacks. Internal to
// src/server: includes Asio.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "core/peer_cred.h"
#include "server/server.h"

namespace fastid::server {

struct Server::Connection {
  Connection(asio::generic::stream_protocol::socket s, std::uint64_t conn_id, core::PeerCred cred)
      : socket(std::move(s)), watchdog(socket.get_executor()), id(conn_id), peer(cred) {}

  // Closes the socket: any pending read or write completes with an error and
  // the request loop ends by itself.
  void close() {
    asio::error_code ignored;
    socket.close(ignored);
    watchdog.cancel();
  }

  // Moves the deadline. The watchdog sleeps until the deadline it last saw:
  // moving it later needs nothing (it re-reads on waking), moving it earlier
  // wakes it so that it re-arms.
  void set_deadline(std::chrono::steady_clock::time_point when) {
    deadline = when;
    if (when < armed) watchdog.cancel();
  }

  asio::generic::stream_protocol::socket socket;
  asio::steady_timer watchdog;
  std::chrono::steady_clock::time_point armed = std::chrono::steady_clock::time_point::max();
  // When the current phase must be over: waiting for a request (idle timeout)
  // or reading/writing a frame (stall timeout). The watchdog closes the socket
  // once it passes; moving it later is just an assignment.
  std::chrono::steady_clock::time_point deadline;
  std::uint64_t id;
  core::PeerCred peer;
  bool admin = false;      // accepted on the admin socket
  bool network = false;    // accepted on a TCP listener: public lookups only
  bool auth = false;       // accepted on the pam socket
  bool busy = false;       // between a complete request header and its reply written
  bool timed_out = false;  // closed by the watchdog
  // Its share of the budgets (Server::admit): the class of its listener, the
  // capped peer it counts against ("" = none: root), and whether it still counts.
  ListenerClass listener_class = ListenerClass::kNss;
  bool unprivileged = false;
  bool counted = false;
  std::string holder;
};

// The request loop: read a frame, handle it, write the reply, until the peer
// leaves, breaks the protocol, stalls or the server stops.
asio::awaitable<void> serve_connection(Server& server, std::shared_ptr<Server::Connection> conn);

// The same loop over TLS (tls_listener.cc): the handshake first, within the
// context's handshake timeout, then requests as above.
class TlsServerContext;
asio::awaitable<void> serve_tls_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                           std::shared_ptr<TlsServerContext> tls);

// One request of glibc's nscd protocol, answered, then the connection closed
// (nscd_connection.cc); a request it cannot take closes it at once.
asio::awaitable<void> serve_nscd_connection(Server& server, std::shared_ptr<Server::Connection> conn);

// One HTTP request of the metrics listener (metrics_connection.cc): GET
// /metrics answered with the exposition, anything else 400/404/405/431; then closed.
asio::awaitable<void> serve_metrics_connection(Server& server, std::shared_ptr<Server::Connection> conn);

// Closes the connection's socket when its deadline passes.
asio::awaitable<void> watch_connection(std::shared_ptr<Server::Connection> conn);

}  // namespace fastid::server
