// The request loop of a stream connection, written once for every transport:
// the plain sockets of connection.cc (Unix, TCP) and the TLS sessions of
// tls_listener.cc. A Transport gives
//   wait_request()             an awaitable op that ends when a request may have arrived
//   take_request(r, in, want)  appends what arrived (at most `want` bytes) to the
//                              ReadBuffer `in`, wiping any copy of its own;
//                              false when the peer is gone or the socket was closed
//   read(buffer), write(buffer) awaitable ops (as_tuple: error, bytes) that
//                              read or write the whole buffer
// so that the plain path keeps its wait-for-readability, one-read design and
// TLS reads through OpenSSL's buffers. A Transport is a small handle, kept in
// the loop's own coroutine frame. Included by those two files only.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <string.h>

#include <chrono>
#include <expected>
#include <memory>
#include <span>
#include <vector>

#include "proto/messages.h"
#include "proto/wire.h"
#include "server/connection.h"
#include "server/pam_handler.h"
#include "server/read_buffer.h"

namespace fastid::server {

template <typename Transport>
asio::awaitable<void> serve_requests(Server& server, std::shared_ptr<Server::Connection> conn,
                                     NssHandler& handler, Transport transport) {
  using Clock = std::chrono::steady_clock;
  // Bytes received and not yet used: empty between requests, except when a
  // client sends its next request before reading the reply. An idle
  // connection holds no read buffer at all: it waits for readability, then
  // takes whatever arrived in one non-blocking read (a whole request, almost
  // always) — one system call where a header-then-payload read takes two.
  // Every byte leaving it is wiped (passwords on the pam socket), on every
  // path out of this loop too: the buffer wipes itself when destroyed.
  ReadBuffer in;
  bool protocol_error = false;

  while (!server.stopping()) {
    conn->busy = false;
    conn->set_deadline(Clock::now() + server.idle_timeout_of(*conn));
    if (in.empty()) {
      auto wait = transport.wait_request();
      auto woken = co_await std::move(wait);
      // False: the peer left, or the idle timeout or shutdown closed it.
      if (!transport.take_request(woken, in, proto::kHeaderSize + proto::kMaxRequestPayload)) break;
      if (in.empty()) continue;  // woken without data
    }
    conn->busy = true;
    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    if (in.size() < proto::kHeaderSize) {
      // A header sent in pieces: wait for the rest (the stall limit applies).
      const std::size_t have = in.size();
      in.resize(proto::kHeaderSize);
      auto rd = transport.read(asio::buffer(in.data() + have, proto::kHeaderSize - have));
      auto [rerr, rn] = co_await std::move(rd);
      if (rerr) {
        protocol_error = conn->timed_out;
        break;
      }
    }

    proto::FrameHeader h{};
    proto::HeaderCheck check = proto::decode_header(in.data(), &h);
    if (check == proto::HeaderCheck::kBadVersion) {
      // Tell the peer why, then close: we cannot know how to frame what follows.
      auto reply = proto::encode_error_reply(h.opcode, h.request_id,
                                             proto::WireStatus::kUnsupportedVersion,
                                             "protocol version not supported");
      co_await transport.write(asio::buffer(reply));
      protocol_error = true;
      break;
    }
    if (check != proto::HeaderCheck::kOk) {
      // An oversized length or unknown flags: the stream cannot be trusted.
      protocol_error = true;
      break;
    }
    if (h.length > proto::kMaxRequestPayload) {
      // Over the request limit: what arrived is dropped, the rest is read in
      // small pieces and dropped too, then answered "too large" below. A peer
      // cannot make the daemon hold a megabyte per connection.
      std::size_t left = h.length;
      const std::size_t here = std::min(in.size() - proto::kHeaderSize, left);
      left -= here;
      in.erase(proto::kHeaderSize, here);
      std::vector<std::uint8_t> sink(1024);  // on the heap: the coroutine frame stays small
      bool failed = false;
      while (left > 0) {
        auto rd = transport.read(asio::buffer(sink.data(), std::min(left, sink.size())));
        auto [rerr, rn] = co_await std::move(rd);
        if (rerr) {
          failed = true;
          break;
        }
        left -= rn;
      }
      ::explicit_bzero(sink.data(), sink.size());
      if (failed) {
        protocol_error = conn->timed_out;
        break;
      }
    } else if (in.size() < proto::kHeaderSize + h.length) {
      // The rest of the payload has not arrived yet.
      const std::size_t have = in.size();
      in.resize(proto::kHeaderSize + h.length);
      auto rd = transport.read(asio::buffer(in.data() + have, in.size() - have));
      auto [rerr, rn] = co_await std::move(rd);
      if (rerr) {
        protocol_error = conn->timed_out;
        break;
      }
    }
    const std::size_t frame_end = proto::kHeaderSize + (h.length > proto::kMaxRequestPayload ? 0 : h.length);
    std::span<const std::uint8_t> payload(in.data() + proto::kHeaderSize, frame_end - proto::kHeaderSize);

    ++server.mutable_stats().requests;
    proto::Bytes reply;
    std::expected<proto::Request, proto::DecodeError> request =
        h.length > proto::kMaxRequestPayload
            ? std::expected<proto::Request, proto::DecodeError>(
                  std::unexpect, proto::DecodeError{proto::WireStatus::kTooLarge,
                                                    "request payload of " + std::to_string(h.length) +
                                                        " bytes is over the limit"})
            : proto::decode_request(h, payload);
    // The frame is used up (the request owns copies of its fields, a password
    // in a core::Secret); what follows it, if anything, is the client's next
    // request. The erase wipes the frame and the tail the move leaves behind.
    in.erase(0, frame_end);
    if (in.empty() && in.capacity() > 512) in.release();
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
    } else if (request && proto::opcode_is_auth(h.opcode)) {
      // Passwords travel on the pam socket only (and never over a network:
      // the network check above refuses them first).
      if (!conn->auth || server.pam_handler() == nullptr) {
        reply = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kPermissionDenied,
                                          "authentication requests are accepted on the pam socket only");
      } else {
        conn->set_deadline(Clock::time_point::max());
        auto op = server.pam_handler()->handle(std::move(*request), conn->peer);
        reply = co_await std::move(op);
      }
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

    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    auto [werr, wn] = co_await transport.write(asio::buffer(reply));
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
