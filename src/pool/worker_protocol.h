// WorkerProtocol: what travels on a provider worker's socketpair — the client
// protocol's own frames (proto/wire.h), one request at a time, plus a start-up frame.
// Pure functions over values: no I/O, no state; safe from any thread.
//
// The conversation, worker side:
//   1. after opening its provider, one "ready" frame: a kPing reply with request id 0
//      (payload: its version), or, if open() failed, an error reply with request id 0
//      whose message says why, after which the worker exits;
//   2. then, for each request frame read, exactly one reply frame with the same
//      request id, until the daemon closes its end (the worker then exits 0).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "proto/messages.h"
#include "providers/provider.h"

namespace fastid::pool {

// The worker's file descriptors, as the pool arranges them in the child.
inline constexpr int kWorkerSocketFd = 3;  // its end of the socketpair
inline constexpr int kWorkerConfigFd = 4;  // a sealed memfd: the provider's config as TOML

// The start-up frame's request id; the pool never uses it for a request.
inline constexpr std::uint32_t kReadyRequestId = 0;

proto::Bytes encode_ready(std::string_view version);
proto::Bytes encode_start_failure(const core::Status& why);

// Worker side: one request, answered by calling `provider` synchronously;
// the reply frame carries the request's id. Provider errors become error
// replies with their code and message; never throws for a provider's error.
proto::Bytes serve_request(providers::Provider& provider, const proto::Request& request);

// Daemon side: the typed value of a status reply (lookup replies decode with
// proto::decode_answer). An error reply becomes its Status (kNotFound,
// kUnavailable, ... with the worker's message); a payload that does not
// decode whole is kCorruption.
core::Result<std::vector<std::pair<std::string, std::string>>> decode_status_reply(const proto::Reply& reply);
// An account verdict as the wire carries it, and back (kCorruption for a
// result that is not an account verdict).
proto::AuthReply auth_reply_of(const model::Account& account);
core::Result<model::Account> account_of(const proto::AuthReply& reply);
// A password change verdict likewise (kChangePassword replies).
proto::AuthReply auth_reply_of(const model::PasswordChange& change);
core::Result<model::PasswordChange> password_change_of(const proto::AuthReply& reply);

// A whole frame again (header + payload), e.g. to forward a worker's reply to
// a client unchanged but for the request id.
proto::Bytes encode_reply(const proto::Reply& reply);

}  // namespace fastid::pool
