// pam_fastid.so's exchange with fastidd (pam/module.h): connecting to the
// `pam` socket and checking the daemon before anything is sent (a root-owned
// socket, a root peer, a ping within Options::check_ms: pam/daemon_check.h), one
// request frame out and its reply in under poll() deadlines, and the answer
// mapped to a PAM code. libc and libpam only, like the rest of the module.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam/daemon_check.h"
#include "pam/module.h"
#include "proto/ccache_name.h"
#include "proto/wire.h"

namespace fastid::pam_module {

using fastid::pam::DaemonCheck;
using fastid::proto::AuthResult;
using fastid::proto::FrameHeader;
using fastid::proto::Opcode;

constexpr uint32_t kMaxReply = 2048;      // an auth reply is a code and a short message

static int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
static bool wait_for(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    return (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

static bool send_all(int fd, const uint8_t* p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
      continue;
    }
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

static bool recv_all(int fd, uint8_t* p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLIN, deadline)) return false;
      continue;
    }
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// One request frame out, its reply in. The reply must be for this opcode and
// id, status kOk and at most kMaxReply bytes; the payload lands in `payload`.
static bool exchange(int fd, const uint8_t* frame, size_t frame_len, uint16_t opcode, uint32_t id,
              uint8_t* payload, uint32_t* payload_len, int64_t deadline) {
  if (!send_all(fd, frame, frame_len, deadline)) return false;
  uint8_t head[fastid::proto::kHeaderSize];
  if (!recv_all(fd, head, sizeof head, deadline)) return false;
  FrameHeader h;
  if (fastid::proto::decode_header(head, &h) != fastid::proto::HeaderCheck::kOk) return false;
  if ((h.flags & fastid::proto::kFlagReply) == 0 || h.opcode != opcode || h.request_id != id ||
      h.length > kMaxReply) {
    return false;
  }
  if (!recv_all(fd, payload, h.length, deadline)) return false;
  *payload_len = h.length;
  return h.status == static_cast<uint32_t>(fastid::proto::WireStatus::kOk);
}

// Connects and checks the daemon: a root-owned socket, a root peer, a ping
// answered in time. Returns the fd (> 2, O_CLOEXEC) or -1 with the reason logged.
int connect_daemon(pam_handle_t* pamh, const Options& o) {
  const int64_t deadline = now_ms() + o.check_ms;
  const DaemonCheck file = fastid::pam::check_socket_file(o.socket);
  if (file == DaemonCheck::kNoSocket) {
    pam_syslog(pamh, LOG_ERR, "fastidd socket %s: %s", o.socket, strerror(errno));
    return -1;
  }
  if (file != DaemonCheck::kOk) {
    pam_syslog(pamh, LOG_ERR, "refusing %s: %s", o.socket, fastid::pam::daemon_check_reason(file));
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    pam_syslog(pamh, LOG_ERR, "socket: %s", strerror(errno));
    return -1;
  }
  if (fd <= 2) {
    // A process that closed its standard fds must not get our socket there.
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    if (moved < 0) return -1;
    fd = moved;
  }
  sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, o.socket, strlen(o.socket));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      pam_syslog(pamh, LOG_ERR, "connect %s: %s", o.socket, strerror(errno));
      close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(fd, POLLOUT, deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
        err != 0) {
      pam_syslog(pamh, LOG_ERR, "connect %s: %s", o.socket, err ? strerror(err) : "timed out");
      close(fd);
      return -1;
    }
  }
  if (const DaemonCheck peer = fastid::pam::check_peer(fd); peer != DaemonCheck::kOk) {
    pam_syslog(pamh, LOG_ERR, "refusing %s: %s", o.socket, fastid::pam::daemon_check_reason(peer));
    close(fd);
    return -1;
  }
  uint8_t ping[fastid::proto::kHeaderSize];
  FrameHeader h{fastid::proto::kVersion, 0, static_cast<uint16_t>(Opcode::kPing), 1, 0, 0};
  fastid::proto::encode_header(h, ping);
  uint8_t reply[kMaxReply];
  uint32_t n = 0;
  if (!exchange(fd, ping, sizeof ping, static_cast<uint16_t>(Opcode::kPing), 1, reply, &n,
                deadline)) {
    pam_syslog(pamh, LOG_ERR, "fastidd on %s did not answer within %d ms (check_timeout)", o.socket, o.check_ms);
    close(fd);
    return -1;
  }
  return fd;
}

static int pam_code(AuthResult r) {
  switch (r) {
    case AuthResult::kSuccess:
      return PAM_SUCCESS;
    case AuthResult::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case AuthResult::kAuthError:
      return PAM_AUTH_ERR;
    case AuthResult::kUnavailable:
      return PAM_AUTHINFO_UNAVAIL;
    case AuthResult::kLocked:
      return PAM_MAXTRIES;
    case AuthResult::kPermissionDenied:
      return PAM_PERM_DENIED;
    case AuthResult::kAccountExpired:
      return PAM_ACCT_EXPIRED;
    case AuthResult::kPasswordExpired:
      return PAM_NEW_AUTHTOK_REQD;
    case AuthResult::kTokenError:
      return PAM_AUTHTOK_ERR;
    case AuthResult::kIgnore:
      return PAM_IGNORE;
  }
  return PAM_AUTHINFO_UNAVAIL;
}

// A password change's answer, in the codes pam_sm_chauthtok(3) lists.
static int chauthtok_code(AuthResult r) {
  switch (r) {
    case AuthResult::kSuccess:
      return PAM_SUCCESS;
    case AuthResult::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case AuthResult::kAuthError:         // the current password is wrong
    case AuthResult::kPermissionDenied:  // another user's, or a locked account
    case AuthResult::kLocked:
      return PAM_PERM_DENIED;
    case AuthResult::kTokenError:
      return PAM_AUTHTOK_ERR;
    case AuthResult::kIgnore:
      return PAM_IGNORE;
    case AuthResult::kUnavailable:
    case AuthResult::kAccountExpired:
    case AuthResult::kPasswordExpired:
      break;
  }
  return PAM_TRY_AGAIN;
}

// Sends one auth request (user, optional password, service) and maps the
// answer. `message` receives the daemon's message (NUL-terminated, may be empty).
int ask(pam_handle_t* pamh, const Options& o, Opcode op, const char* user, const char* password,
        const char* new_password, char* message, size_t message_cap, char* ccache, size_t ccache_cap) {
  message[0] = '\0';
  if (ccache != nullptr && ccache_cap > 0) ccache[0] = '\0';
  const void* service_item = nullptr;
  const char* service = "";
  if (pam_get_item(pamh, PAM_SERVICE, &service_item) == PAM_SUCCESS && service_item != nullptr) {
    service = static_cast<const char*>(service_item);
  }
  size_t service_len = strnlen(service, fastid::proto::kMaxServiceLength + 1);
  if (service_len > fastid::proto::kMaxServiceLength)
    service_len = fastid::proto::kMaxServiceLength;

  int fd = connect_daemon(pamh, o);
  if (fd < 0) return PAM_AUTHINFO_UNAVAIL;

  // Header + user + two passwords + service, each bounded before we got here.
  uint8_t frame[fastid::proto::kHeaderSize + 16 + fastid::proto::kMaxNameLength +
                2 * fastid::proto::kMaxPasswordLength + fastid::proto::kMaxServiceLength];
  memset(frame, 0, sizeof frame);
  fastid::proto::WireWriter w(frame + fastid::proto::kHeaderSize,
                              sizeof frame - fastid::proto::kHeaderSize);
  w.cstr(user);
  if (op != Opcode::kAccount) w.cstr(password);
  if (op == Opcode::kChangePassword) w.cstr(new_password);
  w.str(service, service_len);
  const uint32_t id = 2;
  FrameHeader h{fastid::proto::kVersion,     0, static_cast<uint16_t>(op), id, 0,
                static_cast<uint32_t>(w.len)};
  fastid::proto::encode_header(h, frame);
  uint8_t reply[kMaxReply];
  uint32_t n = 0;
  bool ok =
      !w.overflow && exchange(fd, frame, fastid::proto::kHeaderSize + w.len,
                              static_cast<uint16_t>(op), id, reply, &n, now_ms() + o.timeout_ms);
  explicit_bzero(frame, sizeof frame);
  close(fd);
  if (!ok) {
    pam_syslog(pamh, LOG_ERR, "no usable answer from fastidd for user %s", user);
    return PAM_AUTHINFO_UNAVAIL;
  }
  fastid::proto::WireReader r(reply, n);
  uint32_t code = r.u32();
  uint32_t mlen = 0;
  const char* m = r.str(1024, &mlen);
  // A success of kAuthenticate may name the user's credential cache.
  uint32_t clen = 0;
  const char* c = nullptr;
  if (!r.bad && !r.at_end() && op == Opcode::kAuthenticate) c = r.str(fastid::proto::kMaxCcacheNameLength, &clen);
  if (r.bad || !r.at_end() || code > fastid::proto::kAuthResultMax) {
    pam_syslog(pamh, LOG_ERR, "malformed answer from fastidd for user %s", user);
    return PAM_AUTHINFO_UNAVAIL;
  }
  if (mlen >= message_cap) mlen = static_cast<uint32_t>(message_cap - 1);
  // Only printable text reaches the user's terminal.
  for (uint32_t i = 0; i < mlen; ++i) {
    unsigned char c = static_cast<unsigned char>(m[i]);
    message[i] = (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  message[mlen] = '\0';
  if (c != nullptr && ccache != nullptr && clen < ccache_cap && code == 0) {
    memcpy(ccache, c, clen);
    ccache[clen] = '\0';
  }
  return op == Opcode::kChangePassword ? chauthtok_code(static_cast<AuthResult>(code))
                                       : pam_code(static_cast<AuthResult>(code));
}

}  // namespace fastid::pam_module
