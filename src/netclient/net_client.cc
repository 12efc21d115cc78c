#include "netclient/net_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/socket_address.h"
#include "core/text.h"
#include "netclient/socket_io.h"
#include "netclient/tls_session.h"
#include "proto/wire.h"

namespace fastid::netclient {
namespace {

using core::Status;

using Address = core::SocketAddress;

// A non-blocking, close-on-exec socket connected (TCP: handshake done) before the deadline.
core::Result<int> connect_to(const Address& a, int type, Clock::time_point deadline, const std::string& name) {
  int fd = ::socket(a.family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core::error(core::status_from_errno(errno, "socket"));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len) != 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      ::close(fd);
      return core::error(Status::unavailable("connect " + name + ": " + std::strerror(e)));
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
      ::close(fd);
      return core::error(Status::timeout("connect " + name + ": timed out"));
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return core::error(Status::unavailable("connect " + name + ": " + std::strerror(err)));
    }
  }
  if (type == SOCK_STREAM) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// Checks a reply header against the request it answers.
Status check_reply(const proto::FrameHeader& h, proto::HeaderCheck check, std::uint16_t opcode,
                   std::uint32_t id) {
  if (check != proto::HeaderCheck::kOk) return Status::corruption("malformed reply header");
  if ((h.flags & proto::kFlagReply) == 0 || h.opcode != opcode || h.request_id != id) {
    return Status::corruption("reply does not match the request (opcode " + std::to_string(h.opcode) +
                              ", id " + std::to_string(h.request_id) + ")");
  }
  return Status::ok();
}

}  // namespace

NetClient::NetClient(Options options) : options_(std::move(options)) {}

NetClient::~NetClient() {
  disconnect();
  for (int fd : udp_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void NetClient::disconnect() {
  tls_.reset();  // before its socket
  if (tcp_fd_ >= 0) ::close(tcp_fd_);
  tcp_fd_ = -1;
}

Status NetClient::connect_tcp(std::size_t index, Clock::time_point deadline) {
  disconnect();
  const std::string& name = options_.servers[index];
  auto addr = core::resolve_host_port(name);
  if (!addr) return addr.error();
  auto fd = connect_to(*addr, SOCK_STREAM, deadline, name);
  if (!fd) return fd.error();
  tcp_fd_ = *fd;
  tcp_server_ = index;
  if (options_.tls) {
    auto hp = core::parse_host_port(name);  // core::resolve_host_port() accepted it
    auto session = TlsSession::handshake(tcp_fd_, *options_.tls, options_.tls_server_name, hp->host, deadline);
    if (!session) {
      disconnect();
      return Status(session.error().code(), name + ": " + session.error().message());
    }
    tls_ = std::move(*session);
  }
  return Status::ok();
}

Status NetClient::send_tcp(const std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  return tls_ ? tls_->send_all(p, n, deadline) : send_all(tcp_fd_, p, n, deadline);
}

Status NetClient::recv_tcp(std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  return tls_ ? tls_->recv_all(p, n, deadline) : recv_all(tcp_fd_, p, n, deadline);
}

core::Result<proto::Reply> NetClient::call(proto::Request request, Transport transport) {
  if (options_.servers.empty()) return core::error(Status::invalid_argument("no server given"));
  request.request_id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  proto::Bytes frame = proto::encode_request(request);
  const auto opcode = static_cast<std::uint16_t>(request.opcode);
  info_ = CallInfo{};
  if (transport == Transport::kUdp && options_.tls) {
    return core::error(Status::invalid_argument("UDP is cleartext: not with TLS (ask over TCP)"));
  }
  if (transport == Transport::kUdp) {
    auto reply = call_udp(frame, opcode, request.request_id);
    if (!reply) return reply;
    if ((reply->header.flags & proto::kFlagTruncated) == 0) {
      info_.answered_by = Transport::kUdp;
      return reply;
    }
    info_.truncated = true;  // the whole answer over TCP
  }
  return call_tcp(frame, opcode, request.request_id);
}

core::Result<proto::Reply> NetClient::call_tcp(const proto::Bytes& frame, std::uint16_t opcode,
                                               std::uint32_t id) {
  Status last = Status::unavailable("no server answered");
  const std::size_t n = options_.servers.size();
  // The connected server first, then the others in order.
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t index = (tcp_fd_ >= 0 ? tcp_server_ + k : k) % n;
    const std::string& name = options_.servers[index];
    // A kept connection the server closed while idle gets one fresh attempt.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto deadline = Clock::now() + options_.timeout;
      bool reused = tcp_fd_ >= 0 && tcp_server_ == index;
      if (!reused) {
        if (Status c = connect_tcp(index, deadline); !c) {
          if (c.code() == core::Code::kInvalidArgument) return core::error(c);
          last = c;  // down, or not the server the TLS check expects: the next one
          break;
        }
      }
      Status st = send_tcp(frame.data(), frame.size(), deadline);
      std::uint8_t head[proto::kHeaderSize];
      if (st) st = recv_tcp(head, sizeof head, deadline);
      if (!st) {
        disconnect();
        last = Status(st.code(), name + ": " + st.message());
        if (reused && st.code() == core::Code::kUnavailable) continue;
        break;
      }
      proto::Reply reply;
      if (Status c = check_reply(reply.header, proto::decode_header(head, &reply.header), opcode, id); !c) {
        disconnect();
        return core::error(Status(c.code(), name + ": " + c.message()));
      }
      reply.payload.resize(reply.header.length);
      if (reply.header.length > 0) {
        st = recv_tcp(reply.payload.data(), reply.payload.size(), deadline);
        if (!st) {
          disconnect();
          last = Status(st.code(), name + ": " + st.message());
          break;
        }
      }
      info_.answered_by = Transport::kTcp;
      info_.server = name;
      return reply;
    }
  }
  return core::error(last);
}

core::Result<proto::Reply> NetClient::call_udp(const proto::Bytes& frame, std::uint16_t opcode,
                                               std::uint32_t id) {
  // Padding buys reply room: the server answers at most three times what it got.
  proto::Bytes datagram = frame;
  if (datagram.size() < options_.udp_datagram) datagram.resize(options_.udp_datagram, 0);
  Status last = Status::unavailable("no server answered");
  udp_fds_.resize(options_.servers.size(), -1);
  for (std::size_t index = 0; index < options_.servers.size(); ++index) {
    const std::string& name = options_.servers[index];
    const auto deadline = Clock::now() + options_.timeout;
    int& kept = udp_fds_[index];
    if (kept < 0) {
      auto addr = core::resolve_host_port(name);
      if (!addr) return core::error(addr.error());
      auto fd = connect_to(*addr, SOCK_DGRAM, deadline, name);  // connected: only its replies arrive
      if (!fd) {
        last = fd.error();
        continue;
      }
      kept = *fd;
    }
    const int* fd = &kept;  // replies to earlier, abandoned requests are skipped by id
    Status st = send_all(*fd, datagram.data(), datagram.size(), deadline);
    std::vector<std::uint8_t>& buf = udp_buf_;
    buf.resize(65536);
    while (st) {
      if (!wait_for(*fd, POLLIN, deadline)) {
        st = Status::timeout(name + ": no UDP reply in time");
        break;
      }
      ssize_t r = ::recv(*fd, buf.data(), buf.size(), 0);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        st = Status::unavailable(name + ": recv: " + std::strerror(errno));  // e.g. ECONNREFUSED
        break;
      }
      proto::Reply reply;
      if (static_cast<std::size_t>(r) < proto::kHeaderSize) continue;  // not for us
      auto check = proto::decode_header(buf.data(), &reply.header);
      if (!check_reply(reply.header, check, opcode, id)) continue;  // a stray datagram
      if (reply.header.length != static_cast<std::size_t>(r) - proto::kHeaderSize) {
        return core::error(Status::corruption(name + ": UDP reply length does not match its datagram"));
      }
      reply.payload.assign(buf.begin() + proto::kHeaderSize, buf.begin() + r);
      info_.server = name;
      return reply;
    }
    ::close(kept);  // an error (ECONNREFUSED) or a timeout: a fresh socket next time
    kept = -1;
    last = st;
  }
  return core::error(last);
}

core::Result<model::Answer> NetClient::lookup(const model::Query& query, Transport t) {
  auto reply = call(proto::request_of(query), t);
  if (!reply) return core::error(reply.error());
  return proto::decode_answer(query.kind, *reply);
}

core::Result<std::string> NetClient::ping(Transport t) {
  proto::Request req;
  req.opcode = proto::Opcode::kPing;
  auto reply = call(std::move(req), t);
  if (!reply) return core::error(reply.error());
  if (Status st = proto::status_of(*reply); !st) return core::error(st);
  proto::WireReader r(reply->payload.data(), reply->payload.size());
  std::uint32_t n = 0;
  const char* s = r.str(1024, &n);
  if (r.bad || !r.at_end()) return core::error(Status::corruption("malformed ping reply"));
  return std::string(s, n);
}

}  // namespace fastid::netclient
