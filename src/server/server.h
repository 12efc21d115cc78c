// Server: the front worker's listeners and connections on one event loop
// (DESIGN idea 4). It accepts from inherited non-blocking listeners, runs one
// coroutine per connection, keeps the live connections in an ordered registry
// (for status and shutdown, never polled for work) and stops in one fixed order.
// Loop-thread only; the io_context must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/nss_handler.h"

namespace asio {
class io_context;
}

namespace fastid::server {

class PamHandler;
class TlsServerContext;

struct ServerLimits {
  std::chrono::milliseconds idle_timeout{60000};   // no request for this long: close
  std::chrono::milliseconds stall_timeout{5000};   // a frame half-read/half-written this long: close
  std::size_t max_connections = 4096;              // per worker; past it new peers are closed at once
  std::size_t max_udp_in_flight = 1024;            // datagrams being answered; past it: "busy"
};

struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;        // closed at once: over max_connections
  std::uint64_t closed_idle = 0;
  std::uint64_t closed_protocol = 0; // bad header, oversized frame, stall
  std::uint64_t requests = 0;
  std::uint64_t refused_network = 0;  // non-public opcodes sent over TCP or UDP
  std::uint64_t udp_requests = 0;
  std::uint64_t udp_truncated = 0;    // replies over three times their datagram
  std::uint64_t udp_dropped = 0;      // not a frame: no reply at all
  std::size_t open = 0;
};

class Server {
 public:
  Server(asio::io_context& io, ServerLimits limits, NssHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting on an already listening Unix stream socket. The server
  // takes ownership of `fd`.
  // `admin`: the admin socket, where root may send admin requests (which are
  // refused on every other listener).
  // `auth`: the pam socket, the only one where authentication requests
  // (proto::opcode_is_auth) are served, by the PAM handler.
  void add_unix_listener(int fd, std::string name, bool admin = false, bool auth = false);
  // Where authentication requests go (not owned; nullptr: refused).
  void set_pam_handler(PamHandler* pam) { pam_ = pam; }
  PamHandler* pam_handler() const { return pam_; }

  // Network listeners (bound, listening and non-blocking, shared with the other
  // workers): only ping and public lookups are answered on them. The server
  // takes ownership of `fd`. With `tls` (tls_listener.h) the TCP listener
  // speaks TLS only.
  void add_tcp_listener(int fd, std::string name, std::shared_ptr<TlsServerContext> tls = nullptr);
  void add_udp_listener(int fd, std::string name);

  void set_limits(ServerLimits limits) { limits_ = limits; }

  // Graceful stop, in this order: stop accepting; close idle connections;
  // let in-flight requests finish and close their connections after the
  // reply; after `grace`, close whatever is left; then call `done` (once).
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

  const ServerStats& stats() const { return stats_; }
  std::size_t status_open() const { return connections_.size(); }
  ServerStats& mutable_stats() { return stats_; }
  bool stopping() const { return stopping_; }
  const ServerLimits& limits() const { return limits_; }
  StatusItems status_items() const;

  struct Connection;   // defined in connection.cc
  struct UdpListener;  // defined in server.cc

 private:
  struct Listener;
  void start_accepting(Listener* listener);
  void start_receiving(UdpListener* listener);
  void maybe_finish_stop();

 public:
  // Called by a connection's request loop as its very last step.
  void on_connection_closed(std::uint64_t id);
  // Called by a datagram's handler as its very last step.
  void on_datagram_done();

 private:
  asio::io_context& io_;
  ServerLimits limits_;
  NssHandler& handler_;
  PamHandler* pam_ = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<UdpListener>> udp_listeners_;
  std::size_t udp_in_flight_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  std::unique_ptr<struct StopTimer> stop_timer_;
  ServerStats stats_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace fastid::server
