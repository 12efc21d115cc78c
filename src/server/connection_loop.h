// The request loop of a stream connection, written once for every transport:
// the plain sockets of connection.cc (Unix, TCP) and the TLS sessions of
// tls_listener.cc. A Transport gives
//   wait_request()             an awaitable op that ends when a request may have arrived
//   take_request(r, in, want)  appends what arrived (at most `want` bytes) to the
//                              ReadBuffer `in`, wiping any copy of its own;
//                              false when the peer is gone or the socket was closed
//   read(buffer), write(buffer) awaitable ops (as_tuple: error, bytes) that
//                              read or write the whole buffer
//   write_now(buffer)          bytes written at once, without waiting (0: none)
// so that the plain path keeps its wait-for-readability, one-read design and
// TLS reads through OpenSSL's buffers. A Transport is a small handle, kept in
// the loop's own coroutine frame. Included by those two files only.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <string.h>

#include <algorithm>
#include <chrono>
#include <expected>
#include <memory>
#include <span>
#include <vector>

#include "core/trace.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "server/connection.h"
#include "server/gate.h"
#include "server/read_buffer.h"
#include "server/reply_budget.h"
#include "server/reply_frame.h"

namespace fastid::server {

// How reading one request frame ended.
enum class FrameEnd : std::uint8_t {
  kFrame,          // a whole frame is at the front of the buffer (an oversized one: its header only)
  kGone,           // the peer left, or the socket was closed (idle, stall, shutdown)
  kBadVersion,     // a header of another protocol version: answer, then close
  kProtocolError,  // bad flags or length, or a stall mid-frame: close
};

struct FrameRead {
  FrameEnd end = FrameEnd::kGone;
  proto::FrameHeader header{};
  bool oversized = false;  // over kMaxRequestPayload: its payload was read and dropped
};

// Framing: completes the frame whose first bytes are in `in` (within the
// stall limit the caller set), reading more from the transport as needed.
// A payload over the request limit is read in small pieces and dropped, so
// that a peer cannot make the daemon hold a megabyte per connection.
template <typename Transport>
asio::awaitable<FrameRead> read_frame(Server::Connection& conn, Transport& transport, ReadBuffer& in) {
  FrameRead out;
  if (in.size() < proto::kHeaderSize) {
    // A header sent in pieces: wait for the rest.
    const std::size_t have = in.size();
    in.resize(proto::kHeaderSize);
    auto rd = transport.read(asio::buffer(in.data() + have, proto::kHeaderSize - have));
    auto [rerr, rn] = co_await std::move(rd);
    if (rerr) {
      out.end = conn.timed_out ? FrameEnd::kProtocolError : FrameEnd::kGone;
      co_return out;
    }
  }
  proto::FrameHeader& h = out.header;
  const proto::HeaderCheck check = proto::decode_header(in.data(), &h);
  if (check == proto::HeaderCheck::kBadVersion) {
    out.end = FrameEnd::kBadVersion;
    co_return out;
  }
  if (check != proto::HeaderCheck::kOk) {  // an oversized length or unknown flags
    out.end = FrameEnd::kProtocolError;
    co_return out;
  }
  if (h.length > proto::kMaxRequestPayload) {
    out.oversized = true;
    std::size_t left = h.length;
    const std::size_t here = std::min(in.size() - proto::kHeaderSize, left);
    left -= here;
    in.erase(proto::kHeaderSize, here);
    std::vector<std::uint8_t> sink(1024);  // on the heap: the coroutine frame stays small
    while (left > 0) {
      auto rd = transport.read(asio::buffer(sink.data(), std::min(left, sink.size())));
      auto [rerr, rn] = co_await std::move(rd);
      if (rerr) break;
      left -= rn;
    }
    ::explicit_bzero(sink.data(), sink.size());
    out.end = left > 0 ? (conn.timed_out ? FrameEnd::kProtocolError : FrameEnd::kGone) : FrameEnd::kFrame;
    co_return out;
  }
  if (in.size() < proto::kHeaderSize + h.length) {
    // The rest of the payload has not arrived yet.
    const std::size_t have = in.size();
    in.resize(proto::kHeaderSize + h.length);
    auto rd = transport.read(asio::buffer(in.data() + have, in.size() - have));
    auto [rerr, rn] = co_await std::move(rd);
    if (rerr) {
      out.end = conn.timed_out ? FrameEnd::kProtocolError : FrameEnd::kGone;
      co_return out;
    }
  }
  out.end = FrameEnd::kFrame;
  co_return out;
}

// The gate and the router for one whole frame at the front of `in`: the reply
// frame. The frame is used up here (the request owns copies of its fields, a
// password in a core::Secret): erasing it wipes it and the tail the move
// leaves behind; what follows it, if anything, is the client's next request.
// With tracing on, a lookup's trace key is left in `trace_key` (core/trace.h).
inline asio::awaitable<ReplyFrame> answer_frame(Server& server, Server::Connection& conn, const FrameRead& frame,
                                                  ReadBuffer& in, std::string& trace_key) {
  using Clock = std::chrono::steady_clock;
  const proto::FrameHeader& h = frame.header;
  const std::size_t frame_end = proto::kHeaderSize + (frame.oversized ? 0 : h.length);
  ++server.mutable_stats().requests;
  // The gate first, on the header alone: a request a listener does not take
  // (a password off the pam socket) is never decoded.
  const Rejection why = server.admit_request(conn.listener_class, conn.peer.is_root(), h.opcode);
  if (why != Rejection::kNone) {
    in.erase(0, frame_end);
    co_return proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kPermissionDenied,
                                        rejection_message(why));
  }
  std::expected<proto::Request, proto::DecodeError> request =
      frame.oversized
          ? std::expected<proto::Request, proto::DecodeError>(
                std::unexpect, proto::DecodeError{proto::WireStatus::kTooLarge,
                                                  "request payload of " + std::to_string(h.length) +
                                                      " bytes is over the limit"})
          : proto::decode_request(h, std::span<const std::uint8_t>(in.data() + proto::kHeaderSize, h.length));
  in.erase(0, frame_end);
  if (in.empty() && in.capacity() > 512) in.release();
  if (!request) {
    co_return proto::encode_error_reply(h.opcode, h.request_id, request.error().status, request.error().message);
  }
  if (core::trace_enabled()) {
    if (std::optional<model::Query> q = proto::query_of(*request)) {
      trace_key = model::describe(*q);
      core::trace_stage("received", trace_key);
    }
  }
  // A pooled provider may take up to its request_timeout: the stall limit is
  // for the peer's reading and writing, not for our backends.
  conn.set_deadline(Clock::time_point::max());
  // Built in its own statement, then awaited (core/gcc12_coroutines.h, rule 1).
  auto op = server.router().dispatch(std::move(*request), conn.peer);
  co_return co_await std::move(op);
}

// A shared reply payload is written this many bytes per await (each write's
// completion is a turn of its own).
inline constexpr std::size_t kSharedWriteSlice = 4 * 1024;

// The request loop: wait for a request (idle timeout), read its frame (stall
// timeout), answer it through the gate and the router, write the reply; until
// the peer leaves, breaks the protocol, stalls or the server stops.
template <typename Transport>
asio::awaitable<void> serve_requests(Server& server, std::shared_ptr<Server::Connection> conn, Transport transport) {
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
  std::string trace_key;  // the lookup being answered, with tracing on

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
    auto read = read_frame(*conn, transport, in);
    const FrameRead frame = co_await std::move(read);
    if (frame.end == FrameEnd::kBadVersion) {
      // Tell the peer why, then close: we cannot know how to frame what follows.
      auto reply = proto::encode_error_reply(frame.header.opcode, frame.header.request_id,
                                             proto::WireStatus::kUnsupportedVersion,
                                             "protocol version not supported");
      co_await transport.write(asio::buffer(reply));
    }
    if (frame.end != FrameEnd::kFrame) {
      protocol_error = frame.end != FrameEnd::kGone;
      break;
    }

    trace_key.clear();
    auto answer = answer_frame(server, *conn, frame, in, trace_key);
    ReplyFrame reply = co_await std::move(answer);
    // A large reply is written only within the worker's budget of large
    // replies in flight (reply_budget.h); past it, "busy" at once, and its
    // payload is freed now rather than held for a reader.
    ReplyBudget::Lease lease;
    if (reply.shared_payload) {
      lease = server.reply_budget().acquire(reply.shared_payload, conn->peer.is_root());
      if (!lease) {
        reply = proto::encode_error_reply(frame.header.opcode, frame.header.request_id, proto::WireStatus::kBusy,
                                          "busy: the large replies this worker is writing are at their budget "
                                          "(max_large_reply_bytes); try again");
      }
    }

    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    // The reply leaves in this very handler, before the work the answer
    // queued behind it (the store write and the fast cache publish are
    // posted, docs/architecture.md) and without a loop turn of its own; only
    // what the socket did not take is awaited. A shared payload
    // (shared_replies.h) follows this requester's header, written from the
    // one buffer every reply to that record version holds a reference to, a
    // slice per loop turn: a burst of requests for it costs the turn that
    // reads them a slice each, not a socket buffer's worth (~200 KiB) each.
    bool write_failed = false;
    const std::size_t sent = transport.write_now(asio::buffer(reply.bytes));
    if (sent < reply.bytes.size()) {
      auto wr = transport.write(asio::buffer(reply.bytes) + sent);
      auto [werr, wn] = co_await std::move(wr);
      write_failed = static_cast<bool>(werr);
    }
    if (reply.shared_payload && !write_failed) {
      const proto::Bytes& payload = *reply.shared_payload;
      for (std::size_t at = 0; at < payload.size() && !write_failed;) {
        const std::size_t n = std::min(kSharedWriteSlice, payload.size() - at);
        auto wr = transport.write(asio::buffer(payload.data() + at, n));
        auto [werr, wn] = co_await std::move(wr);
        write_failed = static_cast<bool>(werr);
        at += n;
      }
    }
    lease = ReplyBudget::Lease();  // written: its bytes are free for the next reply
    if (write_failed) {
      protocol_error = conn->timed_out;
      break;
    }
    if (!trace_key.empty()) core::trace_stage("reply_written", trace_key);
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
