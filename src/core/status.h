// Status and Result<T>: errors on the request path are values, never exceptions.
// A Status is cheap to copy when ok (no allocation); an error carries a code,
// the errno that caused it (0 if none) and a message that says where it happened.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fastid::core {

enum class Code : std::uint8_t {
  kOk = 0,
  kNotFound,          // the name or id does not exist (an answer, not a failure)
  kUnavailable,       // the backend cannot answer now; try again later
  kBusy,              // a queue or limit is full; shed at once
  kTimeout,           // a deadline passed
  kCancelled,         // the request was cancelled (shutdown, peer gone)
  kInvalidArgument,   // malformed input or configuration
  kPermissionDenied,  // the caller may not do this
  kIoError,           // a system call failed (errno says which)
  kCorruption,        // data read back is not what was written
  kInternal,          // a bug: an invariant did not hold
};

std::string_view code_name(Code code) noexcept;

class Status {
 public:
  Status() noexcept = default;  // ok
  Status(Code code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  static Status ok() noexcept { return Status(); }
  static Status not_found(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status busy(std::string msg) { return {Code::kBusy, std::move(msg)}; }
  static Status timeout(std::string msg) { return {Code::kTimeout, std::move(msg)}; }
  static Status cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
  static Status invalid_argument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status permission_denied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool is_ok() const noexcept { return code_ == Code::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  Code code() const noexcept { return code_; }
  int sys_errno() const noexcept { return errno_; }
  const std::string& message() const noexcept { return message_; }

  // "not found: user alice" / "I/O error: open /etc/passwd: No such file or directory"
  std::string to_string() const;

  // A copy whose message is prefixed with where it happened ("provider local: ...").
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

// The one errno-to-status function: maps an errno from `what` to a Status.
Status status_from_errno(int err, std::string_view what);

template <typename T>
using Result = std::expected<T, Status>;

// Shorthand for returning an error from a function returning Result<T>.
inline std::unexpected<Status> error(Status s) { return std::unexpected<Status>(std::move(s)); }

// is_result_v<T>: true when T is some Result<U>. Offload uses it to report a thrown
// exception and cancellation inside the value.
template <typename T>
struct is_result : std::false_type {};
template <typename T>
struct is_result<std::expected<T, Status>> : std::true_type {};
template <typename T>
inline constexpr bool is_result_v = is_result<T>::value;

}  // namespace fastid::core
