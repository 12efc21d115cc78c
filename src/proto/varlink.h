// Varlink messages of the systemd userdb front (docs/varlink.md): decoding one
// call of io.systemd.UserDatabase (or org.varlink.service) from a message, and
// encoding its replies — systemd's JSON user and group records, membership
// pairs and the interface's errors. A message is one JSON object; on the
// socket each is followed by a NUL. Every byte is hostile: a message is
// bounded in size and nesting before it is parsed (by nlohmann/json, in
// varlink.cc only), nothing here throws, and a value of the wrong type or out
// of range is an error naming the parameter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/records.h"

namespace fastid::proto::varlink {

// A message longer than this, without its NUL, is refused and the connection
// closed (a call of this interface is a few hundred bytes).
inline constexpr std::size_t kMaxMessage = 16 * 1024;
// Arrays and objects nested deeper than this are refused before parsing.
inline constexpr int kMaxDepth = 8;
inline constexpr std::size_t kMaxName = 256;  // userName, groupName, service

inline constexpr std::string_view kInterface = "io.systemd.UserDatabase";

// The interface's errors ("io.systemd.UserDatabase." + name) and the
// org.varlink.service ones a call may earn.
inline constexpr std::string_view kNoRecordFound = "io.systemd.UserDatabase.NoRecordFound";
inline constexpr std::string_view kBadService = "io.systemd.UserDatabase.BadService";
inline constexpr std::string_view kServiceNotAvailable = "io.systemd.UserDatabase.ServiceNotAvailable";
inline constexpr std::string_view kConflictingRecordFound = "io.systemd.UserDatabase.ConflictingRecordFound";
inline constexpr std::string_view kEnumerationNotSupported = "io.systemd.UserDatabase.EnumerationNotSupported";
inline constexpr std::string_view kNonMatchingRecordFound = "io.systemd.UserDatabase.NonMatchingRecordFound";
inline constexpr std::string_view kMethodNotFound = "org.varlink.service.MethodNotFound";
inline constexpr std::string_view kInterfaceNotFound = "org.varlink.service.InterfaceNotFound";
inline constexpr std::string_view kInvalidParameter = "org.varlink.service.InvalidParameter";
inline constexpr std::string_view kExpectedMore = "org.varlink.service.ExpectedMore";

enum class Method : std::uint8_t {
  kGetUserRecord,
  kGetGroupRecord,
  kGetMemberships,
  kGetInfo,                  // org.varlink.service
  kGetInterfaceDescription,  // org.varlink.service
};

// systemd's user/group dispositions (a record's `disposition`, and the
// values of a `dispositionMask` filter).
enum class Disposition : std::uint8_t { kIntrinsic, kSystem, kDynamic, kRegular };
std::string_view disposition_name(Disposition d);
Disposition disposition_of_id(std::uint32_t id);

// One decoded call. For the userdb methods: `name` is userName (users,
// memberships) or groupName (groups); `other_name` is groupName of
// GetMemberships; `id` the uid or gid. The filters (newer systemd) leave out
// records outside [id_min, id_max] or whose disposition is not in the mask.
struct Call {
  Method method = Method::kGetInfo;
  bool more = false;
  bool oneway = false;
  std::optional<std::string> name;
  std::optional<std::string> other_name;
  std::optional<std::uint32_t> id;
  std::optional<std::string> service;
  std::string interface;  // GetInterfaceDescription
  std::uint32_t id_min = 0;
  std::uint32_t id_max = UINT32_MAX;
  std::uint8_t disposition_mask = 0xF;  // a bit per Disposition

  bool admits(std::uint32_t record_id) const;
};

// Why a message could not become a call. `fatal`: the message is not a
// Varlink call at all (not JSON, too deep, not an object, no method): the
// connection is closed. Otherwise `error` (with one string parameter
// `key`: `value`, when key is not empty) is the reply, and the connection
// carries on.
struct CallError {
  bool fatal = false;
  std::string error;
  std::string key;
  std::string value;
  std::string reason;  // for the log and the tests: what was wrong
};

// A value, or the CallError of why there is none: std::expected's shape,
// written out because the fuzz target's clang 14 has no std::expected.
template <typename T>
class Checked {
 public:
  Checked(T value) : value_(std::move(value)) {}  // NOLINT: implicit, as std::expected's
  Checked(CallError error) : error_(std::move(error)) {}  // NOLINT
  explicit operator bool() const { return value_.has_value(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const CallError& error() const { return error_; }

 private:
  std::optional<T> value_;
  CallError error_;
};

// Decodes one message (without its NUL).
Checked<Call> decode_call(std::string_view message);

// Replies, each a whole message with its NUL. `continues`: more replies of
// the same call follow (a call with `more`).
std::string user_reply(const model::User& user, std::string_view service, bool continues);
std::string group_reply(const model::Group& group, std::string_view service, bool continues);
std::string membership_reply(std::string_view user, std::string_view group, bool continues);
std::string error_reply(std::string_view error, std::string_view key = {}, std::string_view value = {});
std::string info_reply(std::string_view version);
std::string interface_description_reply();

}  // namespace fastid::proto::varlink
