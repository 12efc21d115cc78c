// Server: the front worker's listeners and connections on one event loop
// (DESIGN idea 4). It accepts from inherited non-blocking listeners, runs one
// coroutine per connection, keeps the live connections in an ordered registry
// (for status and shutdown, never polled for work) and stops in one fixed order.
// Loop-thread only; the io_context must outlive it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/gate.h"
#include "server/reply_budget.h"
#include "server/router.h"

namespace asio {
class io_context;
}

namespace fastid::server {

class TlsServerContext;
struct VarlinkOptions;

// Connections of the root-only admin socket per front worker (0600, `fastid` only).
inline constexpr std::size_t kAdminConnections = 32;

struct ServerLimits {
  std::chrono::milliseconds idle_timeout{60000};          // local peer, no request for this long: close
  std::chrono::milliseconds network_idle_timeout{10000};  // the same for TCP peers
  std::chrono::milliseconds stall_timeout{5000};   // a frame half-read/half-written this long: close
  // Budgets per front worker and listener class; past one, new peers of that class
  // are closed at once. Non-root local peers together may hold at most three
  // quarters of the nss and pam budgets: the last quarter is root's.
  std::size_t max_connections = 4096;          // the nss socket
  std::size_t max_pam_connections = 1024;      // the pam socket
  std::size_t max_network_connections = 1024;  // all TCP listeners together
  std::size_t max_varlink_connections = 1024;  // the Varlink (systemd userdb) socket
  std::size_t max_metrics_connections = 64;    // the metrics listener
  std::size_t max_metrics_connections_per_address = 4;
  // Caps per peer. A peer at its cap that connects again has its own oldest
  // idle connection closed to make room (refused when none is idle). Root is
  // not capped per uid.
  std::size_t max_connections_per_uid = 256;     // per non-root uid, per local socket
  std::size_t max_connections_per_address = 64;  // per IPv4 address or IPv6 /64
  std::size_t max_udp_in_flight = 1024;            // datagrams being answered; past it: "busy"
  // Bytes of large replies (a payload buffer of their own: 64 KiB or more)
  // in flight per front worker, a payload shared by many replies once; past
  // it a new large reply is answered "busy"; non-root peers together three
  // quarters of it (reply_budget.h).
  std::size_t max_large_reply_bytes = 64u << 20;
};

struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;        // closed at once: over a budget, or at its cap with nothing idle
  std::uint64_t evicted = 0;         // idle connections closed for a newer one of the same peer
  std::uint64_t closed_idle = 0;
  std::uint64_t closed_protocol = 0; // bad header, oversized frame, stall
  std::uint64_t requests = 0;
  std::uint64_t refused_network = 0;  // non-public opcodes sent over TCP or UDP (Rejection::kNotPublic)
  std::uint64_t udp_requests = 0;
  std::uint64_t udp_truncated = 0;    // replies over three times their datagram
  std::uint64_t udp_dropped = 0;      // not a frame: no reply at all
  std::uint64_t varlink_calls = 0;      // messages received on the Varlink socket
  std::uint64_t varlink_malformed = 0;  // not a Varlink call (or no NUL within the limit): closed
  std::uint64_t nscd_requests = 0;    // nscd protocol: requests whose header arrived
  std::uint64_t nscd_malformed = 0;   //   bad version, type or key length, a key cut short or not one C string
  std::uint64_t nscd_not_served = 0;  //   hosts, services, netgroups, invalidation of another database; no map
  std::uint64_t nscd_failed = 0;      //   a directory failure: closed, so that glibc asks its modules
  std::uint64_t nscd_maps_sent = 0;   //   map descriptors handed out
  std::uint64_t metrics_scrapes = 0;       // GET /metrics answered
  std::uint64_t metrics_bad_requests = 0;  //   400, 404, 405, 431
  // Per listener class (ListenerClass): accepted and refused at once.
  std::array<std::uint64_t, kListenerClasses> accepted_by_class{};
  std::array<std::uint64_t, kListenerClasses> rejected_by_class{};
  std::uint64_t nscd_statistics = 0;  //   GETSTAT answered (root's `nscd -g`)
  std::uint64_t nscd_shutdowns_refused = 0;  // SHUTDOWN (`nscd -K`): refused for everyone
  // Answers on the socket per database (passwd, group) found / not found:
  // `nscd -g`'s "cache hits on positive / negative entries".
  std::uint64_t nscd_found[2] = {0, 0};
  std::uint64_t nscd_not_found[2] = {0, 0};
  std::size_t open = 0;
};

class Server {
 public:
  struct Connection;  // defined in connection.h

  // Requests the gate lets through go to `router` (not owned).
  Server(asio::io_context& io, ServerLimits limits, Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting on an already listening Unix stream socket. The server
  // takes ownership of `fd`.
  // `admin`: the admin socket, where root may send admin requests (which are
  // refused on every other listener); `auth`: the pam socket, the only one
  // where authentication requests are accepted (the gate's table, gate.h).
  void add_unix_listener(int fd, std::string name, bool admin = false, bool auth = false);

  // The socket of glibc's nscd protocol (an already listening Unix stream
  // socket; the server takes ownership of `fd`): one request per connection,
  // answered through the same gate and router (nscd_connection.cc).
  void add_nscd_listener(int fd, std::string name);

  // Network listeners (bound, listening and non-blocking, shared with the other
  // front workers): only ping and public lookups are answered on them. The server
  // takes ownership of `fd`. With `tls` (tls_listener.h) the TCP listener
  // speaks TLS only.
  void add_tcp_listener(int fd, std::string name, std::shared_ptr<TlsServerContext> tls = nullptr);
  void add_udp_listener(int fd, std::string name);

  // The systemd userdb socket (varlink_front.h; bound, listening, non-blocking):
  // io.systemd.UserDatabase calls, answered as lookups. The server takes
  // ownership of `fd`. set_varlink_options: what its connections use (the
  // service name, the directories left out); a reload may replace them, and
  // connections already open keep the ones they started with.
  void add_varlink_listener(int fd, std::string name);

  // The Prometheus scrape listener (TCP, bound, listening, non-blocking;
  // metrics_connection.cc): GET /metrics only, its own budget and per-address
  // cap. The server takes ownership of `fd`.
  void add_metrics_listener(int fd, std::string name);
  void set_varlink_options(std::shared_ptr<const VarlinkOptions> options) { varlink_options_ = std::move(options); }

  void set_limits(ServerLimits limits) {
    limits_ = limits;
    reply_budget_.set_max_bytes(limits.max_large_reply_bytes);
  }
  // The large replies in flight (reply_budget.h), for the request loops.
  ReplyBudget& reply_budget() { return reply_budget_; }

  // How long a connection may wait for its next request.
  std::chrono::milliseconds idle_timeout_of(const Connection& conn) const;

  // Graceful stop, in this order: stop accepting; close idle connections;
  // let in-flight requests finish and close their connections after the
  // reply; after `grace`, close whatever is left; then call `done` (once).
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

  const ServerStats& stats() const { return stats_; }
  std::size_t status_open() const { return connections_.size(); }
  ServerStats& mutable_stats() { return stats_; }
  // The one gate of every transport, and where what it lets through goes.
  // admit_request: the gate's verdict, counted (kNotPublic in refused_network too).
  Rejection admit_request(ListenerClass listener, bool root, std::uint16_t opcode);
  // The same for a front whose requests are not wire opcodes (the metrics scrape).
  Rejection admit_request(ListenerClass listener, bool root, Route route) { return gate_.check(listener, root, route); }
  const Gate& gate() const { return gate_; }
  Router& router() { return router_; }
  bool stopping() const { return stopping_; }
  std::chrono::seconds uptime() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  }
  const ServerLimits& limits() const { return limits_; }
  StatusItems status_items() const;

  struct UdpListener;  // defined in server.cc

 private:
  struct Listener;
  void start_accepting(Listener* listener);
  void start_receiving(UdpListener* listener);
  void maybe_finish_stop();
  // Admits a new connection against its class's budget and its peer's cap
  // (closing the peer's oldest idle connection when at the cap); false: refuse it.
  bool admit(Connection& conn);
  std::size_t budget_of(ListenerClass cls) const;
  // Gives the connection's share of the budgets back; safe to call twice.
  void release_budget(Connection& conn);

 public:
  // Called by a connection's request loop as its very last step.
  void on_connection_closed(std::uint64_t id);
  // Called by a datagram's handler as its very last step.
  void on_datagram_done();

 private:
  asio::io_context& io_;
  ServerLimits limits_;
  Router& router_;
  Gate gate_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<UdpListener>> udp_listeners_;
  std::shared_ptr<const VarlinkOptions> varlink_options_;
  std::size_t udp_in_flight_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  struct ClassUse {
    std::size_t open = 0;
    std::size_t unprivileged = 0;  // non-root local peers (all network peers)
  };
  std::array<ClassUse, kListenerClasses> use_{};
  // Capped peers ("u<class>:<uid>", "a:<address>") and their live connections, oldest first.
  std::map<std::string, std::set<std::uint64_t>> holders_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  std::unique_ptr<struct StopTimer> stop_timer_;
  ServerStats stats_;
  ReplyBudget reply_budget_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace fastid::server
