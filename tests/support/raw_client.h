// Raw protocol clients for system tests: Unix and TCP connections that speak
// frames directly (no libfastid), for what the library would never send —
// thousands of held connections, half frames, pipelined frames — and the
// checks on them (a lookup on a kept connection, "did the daemon close it"),
// and FrameClient, one such connection that closes itself; and the other
// side, read_request_frame and serve_frames, for the tests' fake daemons.
// Needs fastid_proto (encoders and decoders).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::testing {

// A blocking connection to a Unix stream socket, or -1 (errno kept).
inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// A blocking TCP connection to 127.0.0.1:port, or -1.
inline int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, const std::vector<std::uint8_t>& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Reads one reply frame within `ms`; nullopt on EOF, error or timeout.
inline std::optional<proto::Reply> read_reply(int fd, int ms = 5000) {
  auto read_exact = [&](std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      pollfd w{fd, POLLIN, 0};
      if (::poll(&w, 1, ms) != 1) return false;
      ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  };
  std::uint8_t head[proto::kHeaderSize];
  if (!read_exact(head, sizeof head)) return std::nullopt;
  proto::Reply reply{};
  if (proto::decode_header(head, &reply.header) != proto::HeaderCheck::kOk) return std::nullopt;
  reply.payload.resize(reply.header.length);
  if (reply.header.length > 0 && !read_exact(reply.payload.data(), reply.header.length)) return std::nullopt;
  return reply;
}

// One request frame out, its reply back.
inline std::optional<proto::Reply> exchange(int fd, const proto::Request& request, int ms = 5000) {
  if (!send_all(fd, proto::encode_request(request))) return std::nullopt;
  return read_reply(fd, ms);
}

// A lookup by name (kGetpwnam, kGetgrnam, ...) as a request to encode.
inline proto::Request name_request(proto::Opcode opcode, std::uint32_t id, const std::string& name) {
  proto::Request req;
  req.opcode = opcode;
  req.request_id = id;
  req.name = name;
  return req;
}

// One lookup on a kept connection; true when the right user came back.
inline bool lookup(int fd, std::uint32_t id, const char* name) {
  auto reply = exchange(fd, name_request(proto::Opcode::kGetpwnam, id, name));
  if (!reply || reply->header.request_id != id || reply->header.status != 0) return false;
  auto user = model::answer_as<model::User>(proto::decode_answer(model::Kind::kUserByName, *reply));
  return user && user->name == name;
}

// True when the peer has closed `fd` (EOF or reset) within `ms`.
inline bool closed_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return false;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// A fake daemon's read: the next request frame on `c` (blocking), its header
// in *h and its payload in *payload; false at EOF or on a short read.
inline bool read_request_frame(int c, proto::FrameHeader* h, std::vector<std::uint8_t>* payload) {
  std::uint8_t head[proto::kHeaderSize];
  if (::recv(c, head, sizeof head, MSG_WAITALL) != static_cast<ssize_t>(sizeof head)) return false;
  *h = proto::FrameHeader{};
  proto::decode_header(head, h);
  payload->assign(h->length, 0);
  return h->length == 0 ||
         ::recv(c, payload->data(), payload->size(), MSG_WAITALL) == static_cast<ssize_t>(payload->size());
}

// A fake daemon's loop, in a process of its own: each connection on
// `listen_fd` in turn, handle(c, header, payload) for each request frame on
// it until the peer stops or handle returns false (then it is closed).
template <typename Handler>
[[noreturn]] void serve_frames(int listen_fd, Handler handle) {
  for (;;) {
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    proto::FrameHeader h{};
    std::vector<std::uint8_t> payload;
    while (read_request_frame(c, &h, &payload) && handle(c, h, payload)) {
    }
    ::close(c);
  }
}

// A connection speaking raw frames (Unix or TCP, connected by connect_unix or
// connect_tcp), for sending what no honest client sends: closed with it.
class FrameClient {
 public:
  explicit FrameClient(int fd) : fd_(fd) {}
  static FrameClient unix_socket(const std::string& path) { return FrameClient(connect_unix(path)); }
  static FrameClient tcp(int port) { return FrameClient(connect_tcp(port)); }
  FrameClient(FrameClient&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;
  ~FrameClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  [[nodiscard]] bool send(const std::vector<std::uint8_t>& bytes) { return fd_ >= 0 && send_all(fd_, bytes); }
  // One reply frame within 5 s; false on EOF (the daemon closed the
  // connection), a bad header or a timeout.
  [[nodiscard]] bool read_reply(proto::FrameHeader* h, std::vector<std::uint8_t>* payload) {
    auto reply = testing::read_reply(fd_);
    if (!reply) return false;
    *h = reply->header;
    *payload = std::move(reply->payload);
    return true;
  }
  // True when the daemon closes the connection within `ms` (5 s by default).
  bool closed_by_peer(int ms = 5000) { return closed_within(fd_, ms); }

 private:
  int fd_ = -1;
};

}  // namespace fastid::testing
