#include "core/status.h"

#include <cerrno>
#include <cstring>

namespace fastid::core {

std::string_view code_name(Code code) noexcept {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kUnavailable: return "unavailable";
    case Code::kBusy: return "busy";
    case Code::kTimeout: return "timed out";
    case Code::kCancelled: return "cancelled";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kIoError: return "I/O error";
    case Code::kCorruption: return "corruption";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string msg(context);
  if (!message_.empty()) {
    msg += ": ";
    msg += message_;
  }
  return Status(code_, std::move(msg), errno_);
}

Status status_from_errno(int err, std::string_view what) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof buf);
  std::string msg(what);
  msg += ": ";
  msg += text;
  Code code = Code::kIoError;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EACCES:
    case EPERM: code = Code::kPermissionDenied; break;
    case ETIMEDOUT: code = Code::kTimeout; break;
    case ECANCELED: code = Code::kCancelled; break;
    case EAGAIN:
    case ENOBUFS:
    case ENOMEM:
    case EMFILE:
    case ENFILE: code = Code::kBusy; break;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EHOSTUNREACH:
    case ENETUNREACH: code = Code::kUnavailable; break;
    case EINVAL:
    case ENAMETOOLONG: code = Code::kInvalidArgument; break;
    default: break;
  }
  return Status(code, std::move(msg), err);
}

}  // namespace fastid::core
