#include "client/call.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/last_message.h"

namespace fastid::client {
namespace {

using proto::WireStatus;

constexpr int kDefaultTimeoutMs = 5000;
constexpr long kMaxTimeoutMs = 600000;

uint32_t g_next_id = 1;

fastid_status map_wire_status(uint32_t s) {
  switch (static_cast<WireStatus>(s)) {
    case WireStatus::kOk: return FASTID_OK;
    case WireStatus::kNotFound: return FASTID_NOT_FOUND;
    // The daemon is there and says its backend is not: "try again", unlike
    // a daemon that cannot be reached at all (FASTID_UNAVAILABLE).
    case WireStatus::kUnavailable: return FASTID_TRY_AGAIN;
    case WireStatus::kBusy: return FASTID_BUSY;
    case WireStatus::kTimeout: return FASTID_TIMEOUT;
    case WireStatus::kBadRequest:
    case WireStatus::kTooLarge: return FASTID_INVALID_ARGUMENT;
    case WireStatus::kUnknownOpcode:
    case WireStatus::kUnsupportedVersion: return FASTID_PROTOCOL_ERROR;
    case WireStatus::kPermissionDenied: return FASTID_PERMISSION_DENIED;
    case WireStatus::kInternal: return FASTID_INTERNAL;
  }
  return FASTID_PROTOCOL_ERROR;
}

bool wire_status_known(uint32_t s) { return s <= static_cast<uint32_t>(WireStatus::kUnsupportedVersion); }

}  // namespace

int timeout_ms() {
  const char* v = secure_getenv("FASTID_TIMEOUT_MS");
  if (v == nullptr || *v == '\0') return kDefaultTimeoutMs;
  char* end = nullptr;
  errno = 0;
  long ms = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || ms < 1 || ms > kMaxTimeoutMs) return kDefaultTimeoutMs;
  return static_cast<int>(ms);
}

Call::Call(proto::Opcode op)
    : op_(op),
      id_(__atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED)),
      writer_(request_ + proto::kHeaderSize, kMaxRequest) {}

Call::~Call() {
  if (conn_.fd >= 0) pool_release(&conn_, true);
  free(heap_);
}

void Call::drop() { pool_release(&conn_, false); }

fastid_status Call::bad_payload(const char* what) {
  drop();
  set_message("malformed reply from the daemon: %s", what);
  return FASTID_PROTOCOL_ERROR;
}

uint8_t* Call::copy_payload() const {
  uint8_t* p = static_cast<uint8_t*>(malloc(length_ ? length_ : 1));
  if (p != nullptr && length_) memcpy(p, payload_, length_);
  return p;
}

fastid_status Call::run() {
  if (writer_.overflow) {
    set_message("request too large");
    return FASTID_INVALID_ARGUMENT;
  }
  proto::FrameHeader h{proto::kVersion, 0, static_cast<uint16_t>(op_), id_, 0,
                       static_cast<uint32_t>(writer_.len)};
  proto::encode_header(h, request_);
  const int tmo = timeout_ms();
  const int64_t deadline = now_ns() + static_cast<int64_t>(tmo) * 1000000;

  for (int attempt = 0;; ++attempt) {
    fastid_status st = pool_acquire(&conn_, deadline, attempt == 0);
    if (st != FASTID_OK) return st;
    Io io = send_request(deadline);
    if (io == Io::kOk) io = receive_reply(deadline);
    if (io == Io::kOk) break;
    // A pooled connection the daemon closed while it sat idle: once more on a new one.
    bool retry = io == Io::kStale && conn_.reused && attempt == 0;
    drop();
    if (retry) continue;
    switch (io) {
      case Io::kStale:
        set_message("the daemon closed the connection without replying");
        return FASTID_UNAVAILABLE;
      case Io::kTimeout:
        set_message("no reply from the daemon within %d ms", tmo);
        return FASTID_TIMEOUT;
      case Io::kProtocol:
        return FASTID_PROTOCOL_ERROR;
      case Io::kError:
      case Io::kOk:
        break;
    }
    return error_;
  }

  if (wire_status_ == static_cast<uint32_t>(WireStatus::kOk)) {
    clear_message();
    return FASTID_OK;
  }
  // An error reply: its payload is one str, a message for humans (or nothing).
  if (length_ != 0) {
    proto::WireReader r(payload_, length_);
    uint32_t n = 0;
    const char* s = r.str(proto::kMaxFieldLength, &n);
    if (!r.at_end()) return bad_payload("error message does not decode");
    set_message_bytes(s, n);
  } else {
    clear_message();
  }
  pool_release(&conn_, true);
  return map_wire_status(wire_status_);
}

Call::Io Call::send_request(int64_t deadline_ns) {
  const size_t total = proto::kHeaderSize + writer_.len;
  size_t sent = 0;
  while (sent < total) {
    ssize_t n = send(conn_.fd, request_ + sent, total - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    int err = n < 0 ? errno : EPIPE;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      pollfd p{conn_.fd, POLLOUT, 0};
      int r = poll(&p, 1, poll_ms(deadline_ns));
      if (r == 0) return Io::kTimeout;
      if (r < 0 && errno != EINTR) {
        set_message("poll: %s", strerror(errno));
        error_ = FASTID_INTERNAL;
        return Io::kError;
      }
      continue;
    }
    if (err == EPIPE || err == ECONNRESET || err == ENOTCONN) return Io::kStale;
    set_message("send: %s", strerror(err));
    error_ = FASTID_UNAVAILABLE;
    return Io::kError;
  }
  return Io::kOk;
}

Call::Io Call::receive_reply(int64_t deadline_ns) {
  uint8_t* buf = small_;
  size_t cap = sizeof small_;
  size_t got = 0;
  size_t total = 0;  // header + payload, once the header is in
  for (;;) {
    pollfd p{conn_.fd, POLLIN, 0};
    int r = poll(&p, 1, poll_ms(deadline_ns));
    if (r == 0) return Io::kTimeout;
    if (r < 0) {
      if (errno == EINTR) continue;
      set_message("poll: %s", strerror(errno));
      error_ = FASTID_INTERNAL;
      return Io::kError;
    }
    size_t want = total ? total - got : cap - got;
    ssize_t n = recv(conn_.fd, buf + got, want, MSG_DONTWAIT);
    if (n < 0) {
      int err = errno;
      if (err == EINTR || err == EAGAIN) continue;
      if (err == ECONNRESET && got == 0) return Io::kStale;
      set_message("recv: %s", strerror(err));
      error_ = FASTID_UNAVAILABLE;
      return Io::kError;
    }
    if (n == 0) {
      if (got == 0) return Io::kStale;
      set_message("malformed reply from the daemon: connection closed inside a frame");
      return Io::kProtocol;
    }
    got += static_cast<size_t>(n);
    if (total == 0 && got >= proto::kHeaderSize) {
      proto::FrameHeader h;
      if (proto::decode_header(buf, &h) != proto::HeaderCheck::kOk) {
        set_message("malformed reply from the daemon: bad header (version %u, flags 0x%x, length %u)",
                    h.version, h.flags, h.length);
        return Io::kProtocol;
      }
      if (h.flags != proto::kFlagReply || h.opcode != static_cast<uint16_t>(op_) ||
          h.request_id != id_ || !wire_status_known(h.status)) {
        set_message("malformed reply from the daemon: flags 0x%x, opcode 0x%x (sent 0x%x), "
                    "request id %u (sent %u), status %u",
                    h.flags, h.opcode, static_cast<unsigned>(op_), h.request_id, id_, h.status);
        return Io::kProtocol;
      }
      wire_status_ = h.status;
      total = proto::kHeaderSize + h.length;
      if (got > total) {
        set_message("malformed reply from the daemon: %zu bytes after the frame", got - total);
        return Io::kProtocol;
      }
      if (total > cap) {
        heap_ = static_cast<uint8_t*>(malloc(total));
        if (heap_ == nullptr) {
          set_message("out of memory for a %zu-byte reply", total);
          error_ = FASTID_INTERNAL;
          return Io::kError;
        }
        memcpy(heap_, buf, got);
        buf = heap_;
        cap = total;
      }
    }
    if (total != 0 && got == total) break;
  }
  payload_ = buf + proto::kHeaderSize;
  length_ = static_cast<uint32_t>(total - proto::kHeaderSize);
  return Io::kOk;
}

}  // namespace fastid::client
