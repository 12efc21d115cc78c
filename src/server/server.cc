#include "server/server.h"

#include <asio/basic_socket_acceptor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/generic/datagram_protocol.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/write.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <span>

#include "core/log.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "server/connection.h"
#include "server/varlink_front.h"

namespace fastid::server {
namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Network peers have no credentials: a uid that is nobody's, never root.
const core::PeerCred kAnonymousPeer{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};

int socket_family(int fd) {
  int family = AF_UNSPEC;
  socklen_t len = sizeof family;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0) return AF_UNSPEC;
  return family;
}

// Asio accepts with accept(2), not accept4(SOCK_CLOEXEC): the flag is set at
// once, on the loop thread, before anything else (a provider worker spawned
// from this thread) could inherit the descriptor.
void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

// The capped peer a network connection counts against: its IPv4 address, or
// the /64 of its IPv6 address (one host usually holds a whole /64, so a cap
// per /128 would cap nothing); IPv4-mapped IPv6 is IPv4. "" if the peer is gone.
std::string network_holder(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    return "a4:" + std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      return "a4:" + std::string(reinterpret_cast<const char*>(&a->sin6_addr) + 12, 4);
    }
    return "a6:" + std::string(reinterpret_cast<const char*>(&a->sin6_addr), 8);
  }
  return "";
}

}  // namespace

struct Server::Listener {
  Listener(asio::io_context& io, int fd, int family, int protocol, std::string listener_name)
      : acceptor(io), pause(io), name(std::move(listener_name)) {
    acceptor.assign(asio::generic::stream_protocol(family, protocol), fd);
  }
  asio::basic_socket_acceptor<asio::generic::stream_protocol> acceptor;
  asio::steady_timer pause;  // backs off when the process is out of descriptors
  std::string name;
  bool admin = false;
  bool network = false;
  bool auth = false;
  std::shared_ptr<TlsServerContext> tls;  // set: TLS only (tls_listener.cc)
  ListenerClass cls = ListenerClass::kNss;
};

struct Server::UdpListener {
  UdpListener(asio::io_context& io, int fd, int family, std::string listener_name)
      : socket(io), name(std::move(listener_name)) {
    socket.assign(asio::generic::datagram_protocol(family, IPPROTO_UDP), fd);
  }
  asio::generic::datagram_protocol::socket socket;
  std::string name;
};

namespace {

// A UDP reply may be at most this many times the datagram that asked for it:
// a forged source address gains an attacker nothing. A client that wants a
// bigger answer pads its datagram or asks over TCP.
constexpr std::size_t kUdpAmplification = 3;

// One datagram: answered (or marked truncated) to the address it came from.
asio::awaitable<void> answer_datagram(Server* server, Server::UdpListener* listener,
                                      std::vector<std::uint8_t> datagram,
                                      asio::generic::datagram_protocol::endpoint from,
                                      bool shed) {
  const std::size_t n = datagram.size();
  proto::Bytes reply;
  proto::FrameHeader h{};
  proto::HeaderCheck check =
      n >= proto::kHeaderSize ? proto::decode_header(datagram.data(), &h) : proto::HeaderCheck::kTooLong;
  if (n < proto::kHeaderSize || (check != proto::HeaderCheck::kOk && check != proto::HeaderCheck::kBadVersion) ||
      (h.flags & proto::kFlagReply) != 0) {
    // Not a request frame (or a reply someone bounced at us): silence, so that
    // two servers can never be made to answer each other in a loop.
    ++server->mutable_stats().udp_dropped;
    server->on_datagram_done();
    co_return;
  }
  ++server->mutable_stats().udp_requests;
  if (check == proto::HeaderCheck::kBadVersion) {
    reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kUnsupportedVersion,
                                      "protocol version not supported");
  } else if (h.length > n - proto::kHeaderSize) {
    reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kBadRequest,
                                      "frame longer than its datagram");
  } else if (Rejection why = server->admit_request(ListenerClass::kNetwork, false, h.opcode);
             why != Rejection::kNone) {
    reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kPermissionDenied,
                                      rejection_message(why));
  } else if (shed) {
    reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kBusy,
                                      "too many datagrams in flight");
  } else {
    // Bytes after the frame are the client's padding: they buy reply room.
    auto request = proto::decode_request(
        h, std::span<const std::uint8_t>(datagram.data() + proto::kHeaderSize, h.length));
    if (request) {
      auto op = server->router().dispatch(std::move(*request), kAnonymousPeer);
      ReplyFrame frame = co_await std::move(op);
      reply = std::move(frame).flatten();
    } else {
      reply = proto::encode_error_reply(h.opcode, h.request_id, request.error().status,
                                        request.error().message);
    }
  }
  if (reply.size() > kUdpAmplification * n) {
    // Too big for this datagram: the header alone, flagged truncated, with the
    // status kept (the client retries over TCP).
    reply.resize(proto::kHeaderSize);
    reply[1] = static_cast<std::uint8_t>(reply[1] | proto::kFlagTruncated);
    proto::store_u32(reply.data() + 12, 0);
    ++server->mutable_stats().udp_truncated;
  }
  ++server->mutable_stats().requests;
  auto send = listener->socket.async_send_to(asio::buffer(reply), from, kUseTuple);
  auto [ec, sent] = co_await std::move(send);
  (void)ec;  // a datagram that could not be sent is lost, as UDP allows
  (void)sent;
  server->on_datagram_done();
}

}  // namespace

struct StopTimer {
  explicit StopTimer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};

Server::Server(asio::io_context& io, ServerLimits limits, Router& router)
    : io_(io),
      limits_(limits),
      router_(router),
      reply_budget_(limits.max_large_reply_bytes),
      started_(std::chrono::steady_clock::now()) {}

Rejection Server::admit_request(ListenerClass listener, bool root, std::uint16_t opcode) {
  const Rejection why = gate_.check(listener, root, opcode);
  if (why == Rejection::kNotPublic) ++stats_.refused_network;
  return why;
}

Server::~Server() = default;

void Server::add_unix_listener(int fd, std::string name, bool admin, bool auth) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, AF_UNIX, 0, std::move(name)));
  listeners_.back()->admin = admin;
  listeners_.back()->auth = auth;
  listeners_.back()->cls = admin ? ListenerClass::kAdmin : auth ? ListenerClass::kPam : ListenerClass::kNss;
  start_accepting(listeners_.back().get());
}

void Server::add_varlink_listener(int fd, std::string name) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, AF_UNIX, 0, std::move(name)));
  listeners_.back()->cls = ListenerClass::kVarlink;
  if (!varlink_options_) varlink_options_ = std::make_shared<VarlinkOptions>();
  start_accepting(listeners_.back().get());
}

void Server::add_nscd_listener(int fd, std::string name) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, AF_UNIX, 0, std::move(name)));
  listeners_.back()->cls = ListenerClass::kNscd;
  start_accepting(listeners_.back().get());
}

void Server::add_metrics_listener(int fd, std::string name) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, socket_family(fd), IPPROTO_TCP, std::move(name)));
  listeners_.back()->network = true;  // anonymous peers, capped per address
  listeners_.back()->cls = ListenerClass::kMetrics;
  start_accepting(listeners_.back().get());
}

void Server::add_tcp_listener(int fd, std::string name, std::shared_ptr<TlsServerContext> tls) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, socket_family(fd), IPPROTO_TCP, std::move(name)));
  listeners_.back()->network = true;
  listeners_.back()->tls = std::move(tls);
  listeners_.back()->cls = ListenerClass::kNetwork;
  start_accepting(listeners_.back().get());
}

void Server::add_udp_listener(int fd, std::string name) {
  udp_listeners_.push_back(std::make_unique<UdpListener>(io_, fd, socket_family(fd), std::move(name)));
  start_receiving(udp_listeners_.back().get());
}

void Server::start_receiving(UdpListener* listener) {
  // Shared with the other front workers like the stream listeners: a datagram
  // another front worker took is EAGAIN here, and Asio waits again.
  auto loop = [](Server* self, UdpListener* listener) -> asio::awaitable<void> {
    Server& s = *self;
    std::vector<std::uint8_t> buf(65536);
    while (!s.stopping_) {
      asio::generic::datagram_protocol::endpoint from;
      auto recv = listener->socket.async_receive_from(asio::buffer(buf), from, kUseTuple);
      auto [ec, n] = co_await std::move(recv);
      if (s.stopping_) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. ECONNREFUSED reported for an earlier reply: nothing to do
      }
      std::vector<std::uint8_t> datagram(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      const bool shed = s.udp_in_flight_ >= s.limits_.max_udp_in_flight;
      ++s.udp_in_flight_;
      asio::co_spawn(s.io_, answer_datagram(self, listener, std::move(datagram), from, shed),
                     asio::detached);
    }
  };
  asio::co_spawn(io_, loop(this, listener), asio::detached);
}

void Server::on_datagram_done() {
  --udp_in_flight_;
  maybe_finish_stop();
}

void Server::start_accepting(Listener* listener) {
  // The accept loop. The listener is non-blocking and may be shared with other
  // front worker processes: losing the race for a connection is EAGAIN inside Asio's
  // reactor, which simply waits again — silent, as it should be.
  // Everything the coroutine uses arrives as a parameter: a lambda's captures
  // would die with the lambda object while the coroutine still runs.
  auto loop = [](Server* self, Listener* listener) -> asio::awaitable<void> {
    Server& s = *self;
    while (!s.stopping_) {
      auto [ec, socket] = co_await listener->acceptor.async_accept(kUseTuple);
      if (s.stopping_) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors (EMFILE/ENFILE) or a transient error: pause
        // briefly rather than spin on a listener that stays readable.
        core::log_warning("accept on " + listener->name + ": " + ec.message());
        listener->pause.expires_after(std::chrono::milliseconds(100));
        co_await listener->pause.async_wait(kUseTuple);
        continue;
      }
      set_cloexec(socket.native_handle());
      if (listener->network) {
        int one = 1;
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      auto cred = listener->network ? core::Result<core::PeerCred>(kAnonymousPeer)
                                    : core::peer_cred_of(socket.native_handle());
      if (!cred) {
        core::log_warning("peer credentials: " + cred.error().to_string());
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      std::string holder;
      if (listener->network) {
        holder = network_holder(socket.native_handle());
        if (holder.empty()) {  // the peer is already gone
          asio::error_code ignored;
          socket.close(ignored);
          continue;
        }
        // A scraper's cap is its own: its connections and its lookups over
        // TCP never take each other's places.
        if (listener->cls == ListenerClass::kMetrics) holder = "m" + holder;
      } else if (!cred->is_root()) {
        holder = "u" + std::to_string(static_cast<int>(listener->cls)) + ":" + std::to_string(cred->uid);
      }
      std::uint64_t id = s.next_id_++;
      auto conn = std::make_shared<Connection>(std::move(socket), id, *cred);
      conn->admin = listener->admin;
      conn->network = listener->network;
      conn->auth = listener->auth;
      conn->listener_class = listener->cls;
      conn->unprivileged = listener->network || !cred->is_root();
      conn->holder = std::move(holder);
      if (!s.admit(*conn)) {
        // Over its class's budget, or at its cap with nothing idle to close:
        // the peer sees EOF at once and its client library reports "try
        // again"; connections already open are unaffected.
        ++s.stats_.rejected;
        ++s.stats_.rejected_by_class[static_cast<std::size_t>(listener->cls)];
        conn->close();
        continue;
      }
      ++s.stats_.accepted;
      ++s.stats_.accepted_by_class[static_cast<std::size_t>(listener->cls)];
      conn->deadline = std::chrono::steady_clock::now() + s.idle_timeout_of(*conn);
      s.connections_.emplace(id, conn);
      if (listener->cls == ListenerClass::kVarlink) {
        asio::co_spawn(s.io_, serve_varlink_connection(s, conn, s.varlink_options_), asio::detached);
      } else if (listener->cls == ListenerClass::kNscd) {
        asio::co_spawn(s.io_, serve_nscd_connection(s, conn), asio::detached);
      } else if (listener->cls == ListenerClass::kMetrics) {
        asio::co_spawn(s.io_, serve_metrics_connection(s, conn), asio::detached);
      } else if (listener->tls) {
        asio::co_spawn(s.io_, serve_tls_connection(s, conn, listener->tls), asio::detached);
      } else {
        asio::co_spawn(s.io_, serve_connection(s, conn), asio::detached);
      }
      asio::co_spawn(s.io_, watch_connection(conn), asio::detached);
    }
  };
  asio::co_spawn(io_, loop(this, listener), asio::detached);
}

std::size_t Server::budget_of(ListenerClass cls) const {
  switch (cls) {
    case ListenerClass::kNss: return limits_.max_connections;
    case ListenerClass::kPam: return limits_.max_pam_connections;
    case ListenerClass::kAdmin: return kAdminConnections;
    case ListenerClass::kNetwork: return limits_.max_network_connections;
    case ListenerClass::kVarlink: return limits_.max_varlink_connections;
    case ListenerClass::kNscd: return limits_.max_connections;  // the nss socket's budget, its own count
    case ListenerClass::kMetrics: return limits_.max_metrics_connections;
  }
  return 0;
}

std::chrono::milliseconds Server::idle_timeout_of(const Connection& conn) const {
  return conn.network ? limits_.network_idle_timeout : limits_.idle_timeout;
}

bool Server::admit(Connection& conn) {
  ClassUse& use = use_[static_cast<std::size_t>(conn.listener_class)];
  if (!conn.holder.empty()) {
    const std::size_t cap = conn.listener_class == ListenerClass::kMetrics ? limits_.max_metrics_connections_per_address
                            : conn.network                                 ? limits_.max_connections_per_address
                                                                           : limits_.max_connections_per_uid;
    auto held = holders_.find(conn.holder);
    if (held != holders_.end() && held->second.size() >= cap) {
      // The peer is at its cap: its own oldest idle connection makes room, so
      // that a peer cannot keep a place by holding connections it does not
      // use, and a client whose pooled connections sit idle still gets in.
      Connection* victim = nullptr;
      for (std::uint64_t id : held->second) {
        auto c = connections_.find(id);
        if (c != connections_.end() && !c->second->busy) {
          victim = c->second.get();
          break;
        }
      }
      if (victim == nullptr) return false;
      release_budget(*victim);  // may erase `held`
      victim->close();
      ++stats_.evicted;
    }
  }
  const std::size_t budget = budget_of(conn.listener_class);
  if (use.open >= budget) return false;
  // Non-root local peers share three quarters of the nss and pam budgets; the
  // rest is root's (login, sshd, system services), however many uids connect.
  const bool root_share = !conn.network && conn.listener_class != ListenerClass::kAdmin;
  if (conn.unprivileged && root_share && use.unprivileged >= budget - budget / 4) return false;
  ++use.open;
  if (conn.unprivileged) ++use.unprivileged;
  if (!conn.holder.empty()) holders_[conn.holder].insert(conn.id);
  conn.counted = true;
  return true;
}

void Server::release_budget(Connection& conn) {
  if (!conn.counted) return;
  conn.counted = false;
  ClassUse& use = use_[static_cast<std::size_t>(conn.listener_class)];
  --use.open;
  if (conn.unprivileged) --use.unprivileged;
  if (conn.holder.empty()) return;
  auto held = holders_.find(conn.holder);
  if (held == holders_.end()) return;
  held->second.erase(conn.id);
  if (held->second.empty()) holders_.erase(held);
}

void Server::on_connection_closed(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    release_budget(*it->second);
    connections_.erase(it);
  }
  maybe_finish_stop();
}

void Server::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stop_done_ = std::move(done);
  // 1. Stop accepting.
  for (auto& l : listeners_) {
    asio::error_code ignored;
    l->acceptor.close(ignored);
    l->pause.cancel();
  }
  for (auto& l : udp_listeners_) {
    asio::error_code ignored;
    l->socket.close(ignored);
  }
  // 2. Close idle connections; busy ones close themselves after their reply.
  // Iterate over a copy of the ids: closing never erases synchronously, but a
  // registry that is not mutated while walked needs no reasoning.
  std::vector<std::shared_ptr<Connection>> idle;
  for (auto& [id, conn] : connections_) {
    if (!conn->busy) idle.push_back(conn);
  }
  for (auto& conn : idle) conn->close();
  // 3. After the grace period, close what is left.
  stop_timer_ = std::make_unique<StopTimer>(io_);
  stop_timer_->timer.expires_after(grace);
  stop_timer_->timer.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (!connections_.empty()) {
      core::log_warning("shutdown grace period over: closing " +
                        std::to_string(connections_.size()) + " connection(s) with requests in flight");
    }
    std::vector<std::shared_ptr<Connection>> left;
    for (auto& [id, conn] : connections_) left.push_back(conn);
    for (auto& conn : left) conn->close();
  });
  maybe_finish_stop();
}

void Server::maybe_finish_stop() {
  if (!stopping_ || !connections_.empty() || udp_in_flight_ > 0 || !stop_done_) return;
  if (stop_timer_) stop_timer_->timer.cancel();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  // Run `done` from the loop, not from inside a connection's last step.
  asio::post(io_, std::move(done));
}

StatusItems Server::status_items() const {
  StatusItems items = {
      {"uptime_seconds", std::to_string(uptime().count())},
      {"connections.open", std::to_string(connections_.size())},
      {"connections.accepted", std::to_string(stats_.accepted)},
      {"connections.rejected", std::to_string(stats_.rejected)},
      {"connections.evicted", std::to_string(stats_.evicted)},
      {"connections.closed_idle", std::to_string(stats_.closed_idle)},
      {"connections.closed_protocol", std::to_string(stats_.closed_protocol)},
      {"frames", std::to_string(stats_.requests)},
      {"network.refused", std::to_string(stats_.refused_network)},
      {"udp.requests", std::to_string(stats_.udp_requests)},
      {"udp.truncated", std::to_string(stats_.udp_truncated)},
      {"udp.dropped", std::to_string(stats_.udp_dropped)},
      {"varlink.calls", std::to_string(stats_.varlink_calls)},
      {"varlink.malformed", std::to_string(stats_.varlink_malformed)},
      {"nscd.requests", std::to_string(stats_.nscd_requests)},
      {"nscd.malformed", std::to_string(stats_.nscd_malformed)},
      {"nscd.not_served", std::to_string(stats_.nscd_not_served)},
      {"nscd.failed", std::to_string(stats_.nscd_failed)},
      {"nscd.maps_sent", std::to_string(stats_.nscd_maps_sent)},
      {"metrics.scrapes", std::to_string(stats_.metrics_scrapes)},
      {"metrics.bad_requests", std::to_string(stats_.metrics_bad_requests)},
      {"nscd.statistics", std::to_string(stats_.nscd_statistics)},
      {"nscd.shutdowns_refused", std::to_string(stats_.nscd_shutdowns_refused)},
  };
  for (auto& kv : reply_budget_.status_items()) items.push_back(std::move(kv));
  // Per listener class, named by the class (derived from the enum, so that a
  // new class is never left out): open, accepted, refused at once.
  for (std::size_t c = 0; c < kListenerClasses; ++c) {
    const std::string name = listener_class_name(static_cast<ListenerClass>(c));
    items.emplace_back("connections.open." + name, std::to_string(use_[c].open));
    items.emplace_back("connections.accepted." + name, std::to_string(stats_.accepted_by_class[c]));
    items.emplace_back("connections.rejected." + name, std::to_string(stats_.rejected_by_class[c]));
  }
  return items;
}

}  // namespace fastid::server
