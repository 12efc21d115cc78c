// Daemon-side messages: decoding requests and encoding replies on top of the
// primitives in wire.h. A decoded Request owns its strings; nothing here trusts
// a length it has not checked, and nothing throws on bad input (errors are values).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/secret.h"
#include "core/status.h"
#include "proto/records.h"
#include "proto/wire.h"

namespace fastid::proto {

using Bytes = std::vector<std::uint8_t>;

// A request as the daemon sees it after decoding. Which fields are meaningful
// depends on the opcode: `name` for by-name lookups and initgroups, `id` for
// by-id lookups, `cursor`/`max` for enumeration pages.
struct Request {
  Opcode opcode = Opcode::kPing;
  std::uint32_t request_id = 0;
  std::string name;
  std::uint32_t id = 0;
  std::uint32_t cursor = 0;
  std::uint32_t max = 0;
  // kAuthenticate only; zeroed when the request is destroyed.
  core::Secret password = {};
  // kAuthenticate/kAccount: the PAM service asking ("sshd"), for logs.
  std::string service = {};
};

// The answer to kAuthenticate/kAccount: a result and a message for the user
// or the log ("account expired on 2026-01-01"), never a secret.
struct AuthReply {
  AuthResult result = AuthResult::kUnavailable;
  std::string message;
  bool operator==(const AuthReply&) const = default;
};

// Outcome of decoding one request frame whose header passed decode_header().
// On failure, `status` says what to answer (kBadRequest, kUnknownOpcode,
// kTooLarge) and `message` explains it; the connection may carry on.
struct DecodeError {
  WireStatus status;
  std::string message;
};

std::expected<Request, DecodeError> decode_request(const FrameHeader& header,
                                                   std::span<const std::uint8_t> payload);

// Request encoders (for tests, the CLI's C++ side and provider workers).
Bytes encode_request(const Request& request);

// Reply encoders: a whole frame (header + payload).
Bytes encode_error_reply(std::uint16_t opcode, std::uint32_t request_id, WireStatus status,
                         std::string_view message);
Bytes encode_user_reply(std::uint32_t request_id, Opcode opcode, const User& user);
Bytes encode_group_reply(std::uint32_t request_id, Opcode opcode, const Group& group);
Bytes encode_gids_reply(std::uint32_t request_id, const std::vector<std::uint32_t>& gids);
Bytes encode_users_page_reply(std::uint32_t request_id, const Page<User>& page);
Bytes encode_groups_page_reply(std::uint32_t request_id, const Page<Group>& page);
Bytes encode_auth_reply(std::uint32_t request_id, Opcode opcode, const AuthReply& reply);
Bytes encode_ping_reply(std::uint32_t request_id, std::string_view version);
Bytes encode_status_reply(std::uint32_t request_id,
                          const std::vector<std::pair<std::string, std::string>>& items);

// Record codecs, exposed for tests and for the reply decoders below.
void put_user(WireWriter& w, const User& u);
void put_group(WireWriter& w, const Group& g);
bool get_user(WireReader& r, User* u);
bool get_group(WireReader& r, Group* g);

// Reply decoding (C++ clients: tests, provider-worker IPC later).
struct Reply {
  FrameHeader header{};
  Bytes payload;
};
core::Result<User> decode_user_reply(const Reply& reply);
core::Result<Group> decode_group_reply(const Reply& reply);
core::Result<AuthReply> decode_auth_reply(const Reply& reply);
std::string_view auth_result_name(AuthResult result);

// Status mapping between the core's codes and the wire's.
WireStatus to_wire(core::Code code);
core::Code from_wire(WireStatus status);
std::string_view wire_status_name(WireStatus status);
std::string_view opcode_name(std::uint16_t opcode);

}  // namespace fastid::proto
