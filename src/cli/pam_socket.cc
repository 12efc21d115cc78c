// The pam socket's client side for `fastid auth` and `fastid passwd` (pam_socket.h).
#include "cli/pam_socket.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "default_paths.h"
#include "pam/daemon_check.h"
#include "proto/wire.h"

namespace fastid::cli {
namespace {

// Reads one line into a fixed buffer (never reallocated), zeroed by the caller.
// Longer input than the protocol allows is reported, not cut silently.
bool read_line(int fd, char* buf, std::size_t cap, std::size_t* len, bool* too_long) {
  *len = 0;
  *too_long = false;
  for (;;) {
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return *len > 0 || *too_long;
    if (c == '\n') return true;
    if (*len + 1 >= cap) {
      *too_long = true;
      continue;  // drain the line
    }
    buf[(*len)++] = c;
  }
}

}  // namespace

core::Result<core::Secret> read_secret(const char* prompt) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  const int in = tty >= 0 ? tty : 0;
  termios saved{};
  const bool echo_off = tty >= 0 && ::tcgetattr(tty, &saved) == 0;
  if (echo_off) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
    (void)!::write(tty, prompt, ::strlen(prompt));
  }
  char buf[proto::kMaxPasswordLength + 2];
  std::size_t len = 0;
  bool too_long = false;
  const bool got = read_line(in, buf, sizeof buf, &len, &too_long);
  if (echo_off) {
    ::tcsetattr(tty, TCSAFLUSH, &saved);
    (void)!::write(tty, "\n", 1);
  }
  if (tty >= 0) ::close(tty);
  core::Secret secret(std::string_view(buf, len));
  ::explicit_bzero(buf, sizeof buf);
  if (!got) return core::error(core::Status::invalid_argument("no password given"));
  if (too_long) {
    return core::error(core::Status::invalid_argument(
        "password longer than " + std::to_string(proto::kMaxPasswordLength) + " bytes"));
  }
  return secret;
}

core::Status check_pam_socket(const std::string& path) {
  const pam::DaemonCheck c = pam::check_socket_file(path.c_str());
  if (c == pam::DaemonCheck::kNoSocket) return core::status_from_errno(errno, path);
  if (c != pam::DaemonCheck::kOk) {
    return core::Status::permission_denied("refusing " + path + ": " + pam::daemon_check_reason(c));
  }
  return core::Status::ok();
}

core::Result<proto::AuthReply> ask_pam_socket(const std::string& path, const proto::Request& req) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) {
    if (fd >= 0) ::close(fd);
    return core::error(core::Status::invalid_argument("cannot use socket " + path));
  }
  ::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (auto st = check_pam_socket(path); !st) {
    ::close(fd);
    return core::error(st);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    return core::error(core::status_from_errno(e, "connect " + path));
  }
  // Whoever listens gets a password: it must be root, as pam_fastid.so checks.
  if (const pam::DaemonCheck peer = pam::check_peer(fd); peer != pam::DaemonCheck::kOk) {
    ::close(fd);
    return core::error(core::Status::permission_denied("refusing " + path + ": " +
                                                       pam::daemon_check_reason(peer)));
  }
  proto::Bytes frame = proto::encode_request(req);
  const bool sent =
      ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
  ::explicit_bzero(frame.data(), frame.size());
  auto read_exact = [fd](std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      const ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  };
  proto::Reply reply;
  std::uint8_t head[proto::kHeaderSize];
  bool ok = sent && read_exact(head, sizeof head) &&
            proto::decode_header(head, &reply.header) == proto::HeaderCheck::kOk &&
            reply.header.length <= 4096;
  if (ok) {
    reply.payload.resize(reply.header.length);
    ok = reply.header.length == 0 || read_exact(reply.payload.data(), reply.payload.size());
  }
  ::close(fd);
  if (!ok) return core::error(core::Status::unavailable("no valid reply from " + path));
  return proto::decode_auth_reply(reply);
}

int pam_exit_code(proto::AuthResult r) {
  switch (r) {
    case proto::AuthResult::kSuccess:
      return kPamOk;
    case proto::AuthResult::kUserUnknown:
      return kPamUnknown;
    case proto::AuthResult::kUnavailable:
      return kPamError;
    default:
      return kPamRejected;
  }
}

std::string pam_socket_path() {
  const char* dir = std::getenv("FASTID_SOCKET_DIR");
  return std::string(dir && *dir ? dir : FASTID_SOCKET_DIR_DEFAULT) + "/pam";
}

}  // namespace fastid::cli
