// Daemon-side messages: decoding requests and encoding replies on top of the
// primitives in wire.h. A decoded Request owns its strings; nothing here trusts
// a length it has not checked, and nothing throws on bad input (errors are values).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/secret.h"
#include "core/status.h"
#include "model/query.h"
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
  // kAuthenticate and kChangePassword (the old one); zeroed when the request
  // is destroyed.
  core::Secret password = {};
  // kChangePassword only: the new password.
  core::Secret new_password = {};
  // kAuthenticate/kAccount/kChangePassword: the PAM service asking ("sshd"), for logs.
  std::string service = {};
};

// The answer to kAuthenticate/kAccount: a result and a message for the user
// or the log ("account expired on 2026-01-01"), never a secret. A successful
// kAuthenticate may name the credential cache the source left for the login
// (proto/ccache_name.h; sent only when not empty, so older readers of a reply
// without one are unaffected).
struct AuthReply {
  AuthResult result = AuthResult::kUnavailable;
  std::string message;
  std::string ccache = {};
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
Bytes encode_auth_reply(std::uint32_t request_id, Opcode opcode, const AuthReply& reply);
Bytes encode_ping_reply(std::uint32_t request_id, std::string_view version);
Bytes encode_status_reply(std::uint32_t request_id,
                          const std::vector<std::pair<std::string, std::string>>& items);
// A list of key/value pairs in the status reply's format, under `opcode` (kCacheShow).
Bytes encode_items_reply(Opcode opcode, std::uint32_t request_id,
                         const std::vector<std::pair<std::string, std::string>>& items);

// Lookups: the wire is one encoding of model::Query and model::Answer. Each
// lookup kind has one opcode; query_of() is nullopt for the other opcodes
// (ping, status, authentication, administration).
Opcode opcode_of(model::Kind kind);
std::optional<model::Query> query_of(const Request& request);
Request request_of(const model::Query& query, std::uint32_t request_id = 0);
// The reply frame to `query` (the answer must be of the query's kind; one
// that is not becomes a kInternal error reply), and back: an error reply
// becomes its Status, a payload that does not decode whole is kCorruption.
Bytes encode_answer(std::uint32_t request_id, const model::Query& query, const model::Answer& answer);
// The same reply in two parts, for a payload written to many requesters from
// one buffer (server/shared_replies.h): the payload alone (nullopt: the answer
// is not of the query's kind, or does not fit a frame), and the header of one
// requester's successful reply carrying `payload_size` bytes.
std::optional<Bytes> encode_answer_payload(const model::Query& query, const model::Answer& answer);
Bytes encode_answer_header(std::uint32_t request_id, model::Kind kind, std::size_t payload_size);

// Record codecs, exposed for tests and for the reply decoders below.
void put_user(WireWriter& w, const model::User& u);
void put_group(WireWriter& w, const model::Group& g);
bool get_user(WireReader& r, model::User* u);
bool get_group(WireReader& r, model::Group* g);

// Reply decoding (C++ clients: tests, the provider pool, the network client).
struct Reply {
  FrameHeader header{};
  Bytes payload;
};
core::Result<model::Answer> decode_answer(model::Kind kind, const Reply& reply);
core::Result<AuthReply> decode_auth_reply(const Reply& reply);
// The Status an error reply carries; ok for a kOk reply.
core::Status status_of(const Reply& reply);
std::string_view auth_result_name(AuthResult result);

// Status mapping between the core's codes and the wire's.
WireStatus to_wire(core::Code code);
core::Code from_wire(WireStatus status);
std::string_view wire_status_name(WireStatus status);
std::string_view opcode_name(std::uint16_t opcode);

}  // namespace fastid::proto
