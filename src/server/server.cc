#include "server/server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "core/log.h"
#include "server/connection.h"

namespace fastid::server {
namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

struct Server::Listener {
  Listener(asio::io_context& io, int fd, std::string listener_name)
      : acceptor(io), pause(io), name(std::move(listener_name)) {
    acceptor.assign(asio::local::stream_protocol(), fd);
  }
  asio::local::stream_protocol::acceptor acceptor;
  asio::steady_timer pause;  // backs off when the process is out of descriptors
  std::string name;
  bool admin = false;
  bool auth = false;
};

struct StopTimer {
  explicit StopTimer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};

Server::Server(asio::io_context& io, ServerLimits limits, NssHandler& handler)
    : io_(io), limits_(limits), handler_(handler), started_(std::chrono::steady_clock::now()) {}

Server::~Server() = default;

void Server::add_unix_listener(int fd, std::string name, bool admin, bool auth) {
  listeners_.push_back(std::make_unique<Listener>(io_, fd, std::move(name)));
  listeners_.back()->admin = admin;
  listeners_.back()->auth = auth;
  start_accepting(listeners_.back().get());
}

void Server::start_accepting(Listener* listener) {
  // The accept loop. The listener is non-blocking and may be shared with other
  // worker processes: losing the race for a connection is EAGAIN inside Asio's
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
      if (s.connections_.size() >= s.limits_.max_connections) {
        // Over the per-worker limit: the peer sees EOF at once and its client
        // library reports "try again"; connections already open are unaffected.
        ++s.stats_.rejected;
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      auto cred = core::peer_cred_of(socket.native_handle());
      if (!cred) {
        core::log_warning("peer credentials: " + cred.error().to_string());
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++s.stats_.accepted;
      std::uint64_t id = s.next_id_++;
      auto conn = std::make_shared<Connection>(std::move(socket), id, *cred);
      conn->admin = listener->admin;
      conn->auth = listener->auth;
      conn->deadline = std::chrono::steady_clock::now() + s.limits_.idle_timeout;
      s.connections_.emplace(id, conn);
      asio::co_spawn(s.io_, serve_connection(s, conn, s.handler_), asio::detached);
      asio::co_spawn(s.io_, watch_connection(conn), asio::detached);
    }
  };
  asio::co_spawn(io_, loop(this, listener), asio::detached);
}

void Server::on_connection_closed(std::uint64_t id) {
  connections_.erase(id);
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
  if (!stopping_ || !connections_.empty() || !stop_done_) return;
  if (stop_timer_) stop_timer_->timer.cancel();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  // Run `done` from the loop, not from inside a connection's last step.
  asio::post(io_, std::move(done));
}

StatusItems Server::status_items() const {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - started_);
  return {
      {"uptime_seconds", std::to_string(uptime.count())},
      {"connections.open", std::to_string(connections_.size())},
      {"connections.accepted", std::to_string(stats_.accepted)},
      {"connections.rejected", std::to_string(stats_.rejected)},
      {"connections.closed_idle", std::to_string(stats_.closed_idle)},
      {"connections.closed_protocol", std::to_string(stats_.closed_protocol)},
      {"frames", std::to_string(stats_.requests)},
  };
}

}  // namespace fastid::server
