// Plain stream connections (Unix sockets, TCP without TLS): the watchdog, and
// the request loop of connection_loop.h over the bare socket.
#include "server/connection.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <string.h>

#include <algorithm>
#include <array>

#include "server/connection_loop.h"

namespace fastid::server {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

}  // namespace

asio::awaitable<void> watch_connection(std::shared_ptr<Server::Connection> conn) {
  while (conn->socket.is_open()) {
    auto deadline = conn->deadline;
    if (deadline <= Clock::now()) {
      conn->timed_out = true;
      conn->close();
      co_return;
    }
    conn->armed = deadline;
    conn->watchdog.expires_at(deadline);
    co_await conn->watchdog.async_wait(kUseTuple);
  }
}

namespace {

// Reads what the peer has sent so far without waiting (the socket is in
// non-blocking mode) and appends it to `in`. Returns false on EOF or an error.
bool read_available(Server::Connection& conn, ReadBuffer& in, std::size_t want) {
  std::array<std::uint8_t, 1024> chunk;
  bool ok = true;
  for (;;) {
    asio::error_code ec;
    std::size_t n = conn.socket.read_some(asio::buffer(chunk.data(), std::min(chunk.size(), want)), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {  // eof, reset, closed
      ok = false;
      break;
    }
    in.append(chunk.data(), n);
    if (n < chunk.size() || n >= want) break;
    want -= n;
  }
  ::explicit_bzero(chunk.data(), chunk.size());
  return ok;
}

// The bare socket. An idle connection holds no read buffer at all: it waits
// for readability, then takes whatever arrived in one non-blocking read.
class PlainTransport {
 public:
  explicit PlainTransport(Server::Connection& conn) : conn_(conn) {
    asio::error_code ignored;
    conn_.socket.non_blocking(true, ignored);
  }
  auto wait_request() { return conn_.socket.async_wait(asio::socket_base::wait_read, kUseTuple); }
  bool take_request(const std::tuple<asio::error_code>& woken, ReadBuffer& in, std::size_t want) {
    if (std::get<0>(woken) || !conn_.socket.is_open()) return false;
    return read_available(conn_, in, want);
  }
  auto read(asio::mutable_buffer b) { return asio::async_read(conn_.socket, b, kUseTuple); }
  auto write(asio::const_buffer b) { return asio::async_write(conn_.socket, b, kUseTuple); }
  // What the socket takes at once (it is non-blocking): almost always the
  // whole reply, sent before this handler returns to the loop.
  std::size_t write_now(asio::const_buffer b) {
    asio::error_code ec;
    const std::size_t n = conn_.socket.write_some(b, ec);
    return ec ? 0 : n;
  }

 private:
  Server::Connection& conn_;
};

}  // namespace

// Not a coroutine itself: the loop's frame is the connection's only one.
asio::awaitable<void> serve_connection(Server& server, std::shared_ptr<Server::Connection> conn) {
  Server::Connection& c = *conn;
  return serve_requests(server, std::move(conn), PlainTransport(c));
}

}  // namespace fastid::server
