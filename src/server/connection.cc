#include "server/connection.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <vector>

#include "core/log.h"
#include "proto/messages.h"
#include "proto/wire.h"

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

asio::awaitable<void> serve_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                       NssHandler& handler) {
  std::array<std::uint8_t, proto::kHeaderSize> head{};
  std::vector<std::uint8_t> payload;
  bool protocol_error = false;

  while (!server.stopping()) {
    conn->busy = false;
    conn->set_deadline(Clock::now() + server.limits().idle_timeout);
    auto [rerr, rn] = co_await asio::async_read(conn->socket, asio::buffer(head), kUseTuple);
    if (rerr) break;  // peer gone, idle timeout or shutdown closed the socket
    conn->busy = true;
    conn->set_deadline(Clock::now() + server.limits().stall_timeout);

    proto::FrameHeader h{};
    proto::HeaderCheck check = proto::decode_header(head.data(), &h);
    if (check == proto::HeaderCheck::kBadVersion) {
      // Tell the peer why, then close: we cannot know how to frame what follows.
      auto reply = proto::encode_error_reply(h.opcode, h.request_id,
                                             proto::WireStatus::kUnsupportedVersion,
                                             "protocol version not supported");
      co_await asio::async_write(conn->socket, asio::buffer(reply), kUseTuple);
      protocol_error = true;
      break;
    }
    if (check != proto::HeaderCheck::kOk) {
      // An oversized length or unknown flags: the stream cannot be trusted.
      protocol_error = true;
      break;
    }
    // A request payload over the request limit is read into a small scratch
    // buffer and dropped (answered "too large" below): a peer cannot make the
    // daemon hold a megabyte per connection.
    std::uint32_t left = h.length;
    bool read_failed = false;
    while (left > 0) {
      const std::uint32_t chunk = std::min<std::uint32_t>(left, proto::kMaxRequestPayload);
      if (h.length <= proto::kMaxRequestPayload) {
        payload.resize(h.length);
      } else if (payload.size() < chunk) {
        payload.resize(chunk);
      }
      auto [perr, pn] =
          co_await asio::async_read(conn->socket, asio::buffer(payload.data(), chunk), kUseTuple);
      if (perr) {
        read_failed = true;
        break;
      }
      left -= chunk;
    }
    if (read_failed) {
      protocol_error = conn->timed_out;
      break;
    }
    if (h.length == 0) payload.clear();

    ++server.mutable_stats().requests;
    proto::Bytes reply;
    std::expected<proto::Request, proto::DecodeError> request =
        h.length > proto::kMaxRequestPayload
            ? std::expected<proto::Request, proto::DecodeError>(
                  std::unexpect, proto::DecodeError{proto::WireStatus::kTooLarge,
                                                    "request payload of " + std::to_string(h.length) +
                                                        " bytes is over the limit"})
            : proto::decode_request(h, payload);
    if (request && conn->network && !proto::opcode_is_public(h.opcode)) {
      // TCP peers are anonymous: ping and public lookups only.
      ++server.mutable_stats().refused_network;
      reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kPermissionDenied,
                                        "only ping and public lookups are accepted over the network");
    } else if (request && proto::opcode_is_admin(h.opcode) && !(conn->admin && conn->peer.is_root())) {
      // Checked here, where the listener and the peer are known: the
      // socket's file mode is the first gate, the peer's uid the second.
      reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kPermissionDenied,
                                        "admin requests are accepted on the admin socket, from root only");
    } else if (request) {
      // A pooled provider may take up to its request_timeout: the stall limit
      // is for the peer's reading and writing, not for our backends.
      conn->set_deadline(Clock::time_point::max());
      // Built in its own statement, then awaited (GCC 12 coroutine temporaries).
      auto op = handler.handle(std::move(*request), conn->peer);
      reply = co_await std::move(op);
    } else {
      reply = proto::encode_error_reply(h.opcode, h.request_id, request.error().status,
                                        request.error().message);
    }
    // A large payload buffer is not kept for the connection's whole life.
    if (payload.capacity() > 64 * 1024) payload = {};

    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    auto [werr, wn] = co_await asio::async_write(conn->socket, asio::buffer(reply), kUseTuple);
    if (werr) {
      protocol_error = conn->timed_out;
      break;
    }
  }

  if (conn->timed_out && !conn->busy) {
    ++server.mutable_stats().closed_idle;
  } else if (protocol_error) {
    ++server.mutable_stats().closed_protocol;
  }
  conn->close();
  server.on_connection_closed(conn->id);
}

}  // namespace fastid::server
