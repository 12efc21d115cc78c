// The nscd front: one connection of glibc's nscd protocol (proto/nscd.h).
// glibc's client opens a connection per request, sends a 12-byte header and
// its key in one send, reads one reply and closes; so does this loop: read
// the request within the stall timeout, pass it through the gate (as the
// lookup opcode it asks the same question as) and the router, write the
// reply — a record, "not found", or a map descriptor over SCM_RIGHTS — and
// close. Anything else closes the connection without a word: a bad version,
// type or key length, a key that is not one C string, a request cut short, a
// type the daemon does not serve (hosts, services, netgroups), an
// invalidation or a GETSTAT from anyone but root, any SHUTDOWN, a directory
// failure. INVALIDATE of passwd or group from root (`nscd -i`) is the admin
// handler's invalidation, through the same gate row as the admin socket's;
// GETSTAT from root (`nscd -g`) is answered with nscd's statistics record
// filled with fastid's figures; SHUTDOWN (`nscd -K`) never stops fastidd: it
// is a system service, stopped through its service manager. glibc asks its
// NSS modules for a database whose request was closed (docs/nscd.md).

// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and
// go back through the frame's own operator delete (free); GCC 12 warns falsely
// once both are inlined (see nss_handler.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "proto/nscd.h"
#include "proto/nscd_statistics.h"
#include "server/connection.h"

namespace fastid::server {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;
namespace nscd = proto::nscd;

// The key echoed back, the map's size and the descriptor, in one message:
// glibc takes them with one recvmsg. false: the peer is gone or never read.
asio::awaitable<bool> send_map(Server::Connection& conn, const std::string& key, int fd, std::uint64_t size) {
  std::vector<std::uint8_t> payload(key.begin(), key.end());
  payload.push_back(0);
  const auto* sb = reinterpret_cast<const std::uint8_t*>(&size);
  payload.insert(payload.end(), sb, sb + sizeof size);
  iovec iov{payload.data(), payload.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  for (;;) {
    const ssize_t n = ::sendmsg(conn.socket.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(payload.size())) co_return true;
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) co_return false;
    // The peer's receive queue is full (it sends and never reads): wait
    // within the stall deadline, which closes the socket when it passes.
    auto wait = conn.socket.async_wait(asio::socket_base::wait_write, kUseTuple);
    auto [ec] = co_await std::move(wait);
    if (ec) co_return false;
  }
}

// What one request comes to: the bytes to write, a map to send, or nothing (close).
struct Outcome {
  std::vector<std::uint8_t> reply;
  bool send_map = false;
  bool refused = false;  // closed without an answer
};

asio::awaitable<Outcome> answer(Server& server, Server::Connection& conn, const nscd::Request& request) {
  Outcome out;
  ServerStats& stats = server.mutable_stats();
  const bool root = conn.peer.is_root();
  if (request.query) {
    const auto opcode = static_cast<std::uint16_t>(proto::opcode_of(request.query->kind));
    if (server.admit_request(ListenerClass::kNscd, root, opcode) != Rejection::kNone) {
      out.refused = true;
      co_return out;
    }
    // A pooled directory may take its request_timeout: the stall limit is
    // for the peer's reading and writing, not for our backends.
    conn.set_deadline(Clock::time_point::max());
    auto op = server.router().lookup(*request.query);
    core::Result<model::Answer> r = co_await std::move(op);
    const std::size_t db = nscd::database_of(request.query->kind) == nscd::Database::kPasswd ? 0 : 1;
    if (r) {
      if (auto record = nscd::encode_found(*request.query, *r)) {
        out.reply = std::move(*record);
        ++stats.nscd_found[db];
        co_return out;
      }
    } else if (r.error().code() == core::Code::kNotFound) {
      out.reply = nscd::encode_not_found(request.query->kind);
      ++stats.nscd_not_found[db];
      co_return out;
    }
    // "Try again" or a record glibc could not take: no answer, so that glibc
    // asks its own modules rather than believe "no such entry".
    ++stats.nscd_failed;
    out.refused = true;
    co_return out;
  }
  if (request.map) {
    const model::Kind kind =
        *request.map == nscd::Database::kPasswd ? model::Kind::kUserByName : model::Kind::kGroupByName;
    if (server.admit_request(ListenerClass::kNscd, root, static_cast<std::uint16_t>(proto::opcode_of(kind))) !=
        Rejection::kNone) {
      out.refused = true;
      co_return out;
    }
    out.send_map = true;
    co_return out;
  }
  if (request.invalidate) {
    // `nscd -i passwd|group`: the admin handler's invalidation, for root only
    // (the gate's table); the reply is nscd's: an int32, 0 for done.
    if (server.admit_request(ListenerClass::kNscd, root, static_cast<std::uint16_t>(proto::Opcode::kCacheInvalidate)) !=
        Rejection::kNone) {
      out.refused = true;
      co_return out;
    }
    proto::Request admin;
    admin.opcode = proto::Opcode::kCacheInvalidate;
    admin.id = *request.invalidate == nscd::Database::kPasswd ? proto::kMapPasswd
                                                              : proto::kMapGroup | proto::kMapInitgroups;
    auto op = server.router().dispatch(std::move(admin), conn.peer);
    ReplyFrame reply_frame = co_await std::move(op);
    const proto::Bytes frame = std::move(reply_frame).flatten();
    proto::FrameHeader h{};
    const bool done = frame.size() >= proto::kHeaderSize && proto::decode_header(frame.data(), &h) == proto::HeaderCheck::kOk &&
                      h.status == static_cast<std::uint32_t>(proto::WireStatus::kOk);
    const std::int32_t result = done ? 0 : EIO;
    const auto* rb = reinterpret_cast<const std::uint8_t*>(&result);
    out.reply.assign(rb, rb + sizeof result);
    co_return out;
  }
  if (request.statistics) {
    // `nscd -g`: root only, as nscd answers it (the gate's admin row, root
    // only on the admin and nscd sockets; statistics are an administrator's).
    if (server.admit_request(ListenerClass::kNscd, root, static_cast<std::uint16_t>(proto::Opcode::kCacheShow)) !=
        Rejection::kNone) {
      out.refused = true;
      co_return out;
    }
    nscd::Statistics s;
    s.runtime_s = server.uptime().count();
    s.passwd = server.router().nscd_statistics(nscd::Database::kPasswd);
    s.group = server.router().nscd_statistics(nscd::Database::kGroup);
    for (std::size_t db = 0; db < 2; ++db) {
      nscd::DatabaseStatistics& d = db == 0 ? s.passwd : s.group;
      d.positive_answers = stats.nscd_found[db];
      d.negative_answers = stats.nscd_not_found[db];
    }
    ++stats.nscd_statistics;
    out.reply = nscd::encode_statistics(s);
    co_return out;
  }
  if (request.shutdown) {
    // `nscd -K`: refused for everyone, root included. fastidd is a system
    // service: stopping it is its service manager's (systemctl stop fastid).
    // A clean exit here would not be restarted (Restart=on-failure) and
    // would leave the host without its directories and its PAM service.
    ++stats.nscd_shutdowns_refused;
    if (root) core::log_warning("nscd SHUTDOWN request (nscd -K) refused: stop fastidd through its service manager");
    out.refused = true;
    co_return out;
  }
  ++stats.nscd_not_served;
  out.refused = true;
  co_return out;
}

}  // namespace

asio::awaitable<void> serve_nscd_connection(Server& server, std::shared_ptr<Server::Connection> conn) {
  ServerStats& stats = server.mutable_stats();
  bool protocol_error = false;
  // glibc sends the whole request at once: all of it within the stall timeout.
  conn->busy = true;
  conn->set_deadline(Clock::now() + server.limits().stall_timeout);
  do {
    std::array<std::uint8_t, nscd::kHeaderSize> head{};
    auto read_head = asio::async_read(conn->socket, asio::buffer(head), kUseTuple);
    auto [herr, hn] = co_await std::move(read_head);
    if (herr) {
      protocol_error = hn > 0 || conn->timed_out;  // cut short, or never finished
      break;
    }
    ++stats.requests;
    ++stats.nscd_requests;
    nscd::RequestHeader header;
    if (nscd::decode_header(head.data(), &header) != nscd::HeaderCheck::kOk) {
      ++stats.nscd_malformed;
      protocol_error = true;
      break;
    }
    std::vector<std::uint8_t> key(static_cast<std::size_t>(header.key_length));  // 1..1024
    auto read_key = asio::async_read(conn->socket, asio::buffer(key), kUseTuple);
    auto [kerr, kn] = co_await std::move(read_key);
    if (kerr) {
      ++stats.nscd_malformed;
      protocol_error = true;
      break;
    }
    std::optional<nscd::Request> request = nscd::decode_request(header, key);
    if (!request) {
      ++stats.nscd_malformed;
      protocol_error = true;
      break;
    }
    auto op = answer(server, *conn, *request);
    Outcome outcome = co_await std::move(op);
    if (outcome.refused || server.stopping() || !conn->socket.is_open()) break;
    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    if (outcome.send_map) {
      auto map = server.router().nscd_map(*request->map);
      if (!map) {
        ++stats.nscd_not_served;
        break;
      }
      auto send = send_map(*conn, request->key, map->first, map->second);
      const bool sent = co_await std::move(send);
      ::close(map->first);
      if (sent) ++stats.nscd_maps_sent;
      protocol_error = !sent && conn->timed_out;
      break;
    }
    auto write = asio::async_write(conn->socket, asio::buffer(outcome.reply), kUseTuple);
    auto [werr, wn] = co_await std::move(write);
    protocol_error = werr && conn->timed_out;
  } while (false);

  if (protocol_error) ++stats.closed_protocol;
  conn->busy = false;
  conn->close();
  server.on_connection_closed(conn->id);
}

}  // namespace fastid::server
